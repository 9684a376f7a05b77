/**
 * Scoped names: every interface, namespace and cgroup the library makes is
 * named `d-<uid in base58>-<name>`, byte for byte as the Python reference does,
 * so the leftovers of either library are recognised by both and several runs
 * (several uids) never collide.
 */
import { InvalidArgumentError } from "../errors.js";
import { BASE58_ALPHABET, base58ToInt, intToBase58 } from "./base58.js";

const SCOPED_PATTERN = new RegExp(`^d-([${BASE58_ALPHABET}]+)-(.+)$`);
/** The characters of every name the library puts on the system: safe in any argv and as one path component. */
export const NAME_CHARACTERS = /^[A-Za-z0-9_.-]+$/;

/** True for a name of NAME_CHARACTERS that is not `.` or `..`, so that it names one file or directory. */
export function isPlainName(name: string): boolean {
  return NAME_CHARACTERS.test(name) && name !== "." && name !== "..";
}

/** "d-" + 4 base58 digits + "-": the room reserved for the prefix whatever the uid. */
const PREFIX_LENGTH = 2 + 4 + 1;
/** Largest uid that fits 4 base58 digits (58^4 - 1); covers Linux's pid_max of 2^22. */
export const UID_MAX = 58 ** 4 - 1;

/** The kinds of object the library names. */
export type ScopedKind = "interface" | "namespace" | "cgroup";

/**
 * A name the library owns: the caller's `name` plus the `uid` of the run that made it,
 * on the system as `d-<uid in base58>-<name>`.
 *
 * @example
 * ```ts
 * const eth = new InterfaceScoped("eth0", 4242);
 * eth.scoped; // "d-2G9-eth0"
 * InterfaceScoped.fromScoped("d-2G9-eth0").equals(eth); // true
 * ```
 */
export abstract class Scoped {
  /** Longest scoped name the system accepts for this kind of object. */
  static readonly SCOPED_MAX_LENGTH: number = 255;
  /** Names used as they are, never prefixed (`lo`, the root namespace `1`). */
  static readonly UNSCOPED_NAMES: readonly string[] = [];
  /** What the object is, for error messages. */
  static readonly KIND: ScopedKind;

  /** The name as the caller gave it, without the prefix. */
  readonly name: string;
  /** The owner's uid (by default the process id), 0 to 58^4 - 1; 0 means unprefixed. @default process.pid */
  readonly uid: number;

  /**
   * The object `name` of the owner `uid` (the prefix is computed, nothing is created).
   *
   * @throws InvalidArgumentError for a uid outside 0 to 58^4 - 1, or a name that is empty, has
   * characters outside A-Z a-z 0-9 _ . -, or makes the scoped name too long for its kind.
   */
  constructor(name: string, uid: number = process.pid) {
    const cls = this.constructor as typeof Scoped;
    validateUid(uid, `${cls.KIND} uid`);
    validateName(name, cls, uid);
    this.name = name;
    this.uid = uid;
  }

  /** The name as it appears on the system. */
  get scoped(): string {
    const cls = this.constructor as typeof Scoped;
    if (this.uid === 0 || cls.UNSCOPED_NAMES.includes(this.name)) return this.name;
    return `d-${intToBase58(this.uid)}-${this.name}`;
  }

  /** True when this name is one of those the library leaves unprefixed. */
  get isUnscoped(): boolean {
    return this.scoped === this.name;
  }

  /**
   * The scoped name, as on the system.
   *
   * @example
   * ```ts
   * `${new InterfaceScoped("eth0", 1)}`; // "d-2-eth0"
   * ```
   */
  toString(): string {
    return this.scoped;
  }

  /**
   * The scoped name, so JSON output shows what is on the system.
   *
   * @example
   * ```ts
   * JSON.stringify({ link: new InterfaceScoped("eth0", 1) }); // '{"link":"d-2-eth0"}'
   * ```
   */
  toJSON(): string {
    return this.scoped;
  }

  /**
   * True for a name of the same kind with the same uid and name.
   *
   * @example
   * ```ts
   * new InterfaceScoped("eth0", 1).equals(InterfaceScoped.fromScoped("d-2-eth0")); // true
   * new InterfaceScoped("eth0", 1).equals(new NamespaceScoped("eth0", 1)); // false: another kind
   * ```
   */
  equals(other: unknown): boolean {
    return (
      other instanceof Scoped &&
      other.constructor === this.constructor &&
      other.uid === this.uid &&
      other.name === this.name
    );
  }

  /**
   * Orders by uid, then name, as the reference sorts its lists.
   *
   * @example
   * ```ts
   * const sorted = [new InterfaceScoped("b", 1), new InterfaceScoped("a", 1)].sort(Scoped.compare);
   * ```
   */
  static readonly compare = (a: Scoped, b: Scoped): number => {
    if (a.uid !== b.uid) return a.uid - b.uid;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };

  /**
   * Parses `d-<uid>-<name>`; throws InvalidArgumentError for anything else.
   *
   * @throws InvalidArgumentError for a name that is not `d-<uid in base58>-<name>` with a valid name.
   * @example
   * ```ts
   * const ns = NamespaceScoped.fromScoped("d-2G9-server"); // ns.uid 4242, ns.name "server"
   * ```
   */
  static fromScoped<T extends Scoped>(this: ScopedClass<T>, scopedName: string): T {
    const parsed = parseScoped(scopedName);
    if (!parsed) {
      throw new InvalidArgumentError(
        `${this.KIND} name`,
        scopedName,
        "is not a scoped name: expected d-<uid in base58>-<name>",
      );
    }
    return new this(parsed.name, parsed.uid);
  }

  /**
   * Accepts what the API accepts for this kind of object: a scoped name, a
   * plain name (scoped with `uid`), an instance, or an object carrying one
   * (a namespaced DummyNet's `namespace`).
   *
   * @throws InvalidArgumentError for a value of another type or kind, or a name Scoped's constructor refuses.
   * @example
   * ```ts
   * InterfaceScoped.fromAny("eth0", 1).scoped; // "d-2-eth0"
   * InterfaceScoped.fromAny("d-2-eth0").name; // "eth0"
   * ```
   */
  static fromAny<T extends Scoped>(this: ScopedClass<T>, value: unknown, uid: number = process.pid): T {
    if (value instanceof this) return value;
    if (typeof value === "string") {
      if (parseScoped(value)) return Scoped.fromScoped.call(this, value) as T;
      return new this(value, uid);
    }
    if (value !== null && typeof value === "object" && this.KIND in value) {
      const inner = (value as Record<string, unknown>)[this.KIND];
      if (inner instanceof this) return inner;
    }
    throw new InvalidArgumentError(
      this.KIND,
      value,
      `is neither a name (string) nor a ${this.name}: pass a string or a ${this.name}`,
    );
  }
}

/** A concrete Scoped class, as the static factories take `this`. */
export interface ScopedClass<T extends Scoped> {
  new (name: string, uid?: number): T;
  /** What the class names, for messages. */
  readonly KIND: ScopedKind;
  /** The class's name, e.g. "InterfaceScoped". */
  readonly name: string;
}

/**
 * A network interface: scoped names fit Linux's 15 characters, so names have at most 8.
 *
 * @example
 * ```ts
 * const links: InterfaceScoped[] = await net.linkList();
 * new InterfaceScoped("lo").scoped; // "lo": never prefixed
 * ```
 */
export class InterfaceScoped extends Scoped {
  static override readonly SCOPED_MAX_LENGTH = 15;
  static override readonly UNSCOPED_NAMES = ["lo"];
  static override readonly KIND: ScopedKind = "interface";
}

/**
 * A network namespace; `1` is the root namespace (the namespace of pid 1).
 *
 * @example
 * ```ts
 * const mine: NamespaceScoped[] = await net.netnsList();
 * new NamespaceScoped("1").isRoot; // true
 * ```
 */
export class NamespaceScoped extends Scoped {
  static override readonly SCOPED_MAX_LENGTH = 255;
  static override readonly UNSCOPED_NAMES = ["1"];
  static override readonly KIND: ScopedKind = "namespace";

  /** True for the root namespace (`1`, the namespace of pid 1). */
  get isRoot(): boolean {
    return this.name === "1";
  }
}

/**
 * A cgroup directory under the cgroup root.
 *
 * @example
 * ```ts
 * const group = await CGroup.create({ name: new CGroupScoped("web", 1), memoryLimit: 2 ** 26 }); // d-2-web
 * ```
 */
export class CGroupScoped extends Scoped {
  static override readonly SCOPED_MAX_LENGTH = 255;
  static override readonly KIND: ScopedKind = "cgroup";
}

/** Splits `d-<uid>-<name>` into uid and name; `undefined` for anything else. */
export function parseScoped(scopedName: string): { uid: number; name: string } | undefined {
  const match = SCOPED_PATTERN.exec(scopedName);
  if (!match) return undefined;
  const uid = base58ToInt(match[1]);
  if (uid > UID_MAX) return undefined;
  return { uid, name: match[2] };
}

function validateUid(uid: number, argument: string): void {
  if (!Number.isInteger(uid) || uid < 0 || uid > UID_MAX) {
    throw new InvalidArgumentError(
      argument,
      uid,
      `must be an integer from 0 to ${UID_MAX} (4 base58 digits); the default is the process id`,
    );
  }
}

function validateName(name: unknown, cls: typeof Scoped, uid: number): void {
  const argument = `${cls.KIND} name`;
  if (typeof name !== "string") {
    throw new InvalidArgumentError(argument, name, "must be a string");
  }
  if (name.length === 0) throw new InvalidArgumentError(argument, name, "must not be empty");
  if (!NAME_CHARACTERS.test(name)) {
    throw new InvalidArgumentError(argument, name, "may only contain the characters A-Z a-z 0-9 _ . -");
  }
  if (name === "." || name === "..") {
    throw new InvalidArgumentError(argument, name, "must not be . or ..");
  }
  const unscoped = uid === 0 || cls.UNSCOPED_NAMES.includes(name);
  const max = unscoped ? cls.SCOPED_MAX_LENGTH : cls.SCOPED_MAX_LENGTH - PREFIX_LENGTH;
  if (name.length > max) {
    throw new InvalidArgumentError(
      argument,
      name,
      `is ${name.length} characters long; at most ${max} are allowed` +
        (unscoped
          ? ""
          : ` (the system limit of ${cls.SCOPED_MAX_LENGTH} less ${PREFIX_LENGTH} for the d-<uid>- prefix); choose a shorter name`),
    );
  }
}
