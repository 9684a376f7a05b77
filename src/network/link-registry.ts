/**
 * The links a network made and the administrative state it set: where each
 * of its links lives now (linkSet moves them), whether it is up, and so which
 * undos become moot when a namespace of ours is deleted. Kept in memory, so
 * `up` need not ask the kernel for the state to restore.
 */

/** Where a link lives now: its scoped name and the scoped name of its namespace ("1": the host's). */
export interface LinkPlace {
  /** The interface's scoped name. */
  readonly name: string;
  /** The scoped name of the namespace it is in now (`1`: the host's). */
  namespace: string;
}

export type AdminState = "up" | "down";

/** The key of a link in a namespace (both scoped names), as in `placeKey`. */
export function linkKey(link: string, namespace: string): string {
  return `${namespace}/${link}`;
}

/** The key of the link at `place`. */
export function placeKey(place: LinkPlace): string {
  return linkKey(place.name, place.namespace);
}

export class LinkRegistry {
  /** Links this network made, by key; such links die with a namespace of ours. */
  readonly #own = new Map<string, LinkPlace>();
  /** Administrative state of links this network made or set, by key. */
  readonly #state = new Map<string, AdminState>();

  /** Records a link just made (down, like every new link) and returns its place, which later moves update. */
  created(link: string, namespace: string): LinkPlace {
    const key = linkKey(link, namespace);
    const place = { name: link, namespace };
    this.#own.set(key, place);
    this.#state.set(key, "down");
    return place;
  }

  /** The place of a link this network made, if it is in `namespace` now. */
  own(link: string, namespace: string): LinkPlace | undefined {
    return this.#own.get(linkKey(link, namespace));
  }

  /** The place of a link: our own record (which follows moves), else a fixed one. */
  place(link: string, namespace: string): LinkPlace {
    return this.own(link, namespace) ?? { name: link, namespace };
  }

  /**
   * True once any of `places` (looked up now) is destroyed with a namespace
   * in `doomed`: links of ours die with their namespace, others do not.
   */
  diesWith(places: readonly (LinkPlace | undefined)[]): (doomed: ReadonlySet<string>) => boolean {
    return (doomed) => places.some((place) => place !== undefined && doomed.has(place.namespace));
  }

  /** A link moved to another namespace; returns our record of it (updated), if it is ours. The kernel sets a moved link down. */
  moved(link: string, from: string, to: string): LinkPlace | undefined {
    const oldKey = linkKey(link, from);
    const newKey = linkKey(link, to);
    const record = this.#own.get(oldKey);
    if (record) {
      this.#own.delete(oldKey);
      record.namespace = to;
      this.#own.set(newKey, record);
    }
    this.#state.delete(oldKey);
    this.#state.set(newKey, "down");
    return record;
  }

  adminState(link: string, namespace: string): AdminState | undefined {
    return this.#state.get(linkKey(link, namespace));
  }

  setAdminState(link: string, namespace: string, state: AdminState): void {
    this.#state.set(linkKey(link, namespace), state);
  }

  /** Forgets the links with these keys (deleted). */
  forgetLinks(keys: ReadonlySet<string>): void {
    for (const map of [this.#state, this.#own]) {
      for (const key of [...map.keys()]) if (keys.has(key)) map.delete(key);
    }
  }

  /** Forgets every link in a namespace (deleted with it). */
  forgetNamespace(namespace: string): void {
    for (const map of [this.#state, this.#own]) {
      for (const key of [...map.keys()]) if (key.startsWith(`${namespace}/`)) map.delete(key);
    }
  }

  clear(): void {
    this.#state.clear();
    this.#own.clear();
  }
}
