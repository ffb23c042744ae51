import { describe, expect, it } from "vitest";
import { newRequestId, SubmitIds } from "./submitId";

describe("client request ids", () => {
  it("reuses the id for a retried submit and makes a new one for the next message", () => {
    let n = 0;
    const ids = new SubmitIds(() => `id-${++n}`);
    const first = ids.idFor('{"prompt":"a"}');
    // The request failed (network error): the same submit again keeps its id.
    expect(ids.idFor('{"prompt":"a"}')).toBe(first);
    // The user changed the message before retrying: a different submit.
    const edited = ids.idFor('{"prompt":"a!"}');
    expect(edited).not.toBe(first);
    ids.done();
    // The same text sent again after a success is a new message.
    expect(ids.idFor('{"prompt":"a!"}')).not.toBe(edited);
  });

  it("makes v4 UUIDs with or without crypto.randomUUID", () => {
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(newRequestId()).toMatch(v4);
    const insecure = { getRandomValues: <T extends ArrayBufferView | null>(a: T) => globalThis.crypto.getRandomValues(a as Uint8Array) as unknown as T };
    const a = newRequestId(insecure);
    expect(a).toMatch(v4);
    expect(newRequestId(insecure)).not.toBe(a);
  });
});
