// The composer's `client_request_id`: one id per submit, reused when that same submit is sent
// again after a failure (so a retry after a lost answer never queues twice), a new one for the
// next message. "The same submit" is the same request body.

/** A random v4 UUID; `crypto.randomUUID` needs a secure context, so plain HTTP falls back to
 * `getRandomValues`. */
export function newRequestId(c: Pick<Crypto, "getRandomValues"> & Partial<Pick<Crypto, "randomUUID">> = globalThis.crypto): string {
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class SubmitIds {
  private held: { key: string; id: string } | null = null;

  constructor(private readonly make: () => string = () => newRequestId()) {}

  /** The id for a submit of this body (`key`: the body without its id, serialized): the held one
   * when the last submit of the same body failed, else a new one. */
  idFor(key: string): string {
    if (this.held?.key !== key) this.held = { key, id: this.make() };
    return this.held.id;
  }

  /** The submit went through: the next one gets a new id. */
  done(): void {
    this.held = null;
  }
}
