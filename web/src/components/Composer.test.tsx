// The composer: typing, submitting (what is sent, what the caller gets), the disabled states,
// the `/` command suggestions and attachments.
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { CreateTaskRequest, PresetView, SlashCommandView } from "@/generated/protocol";
import { apiError, mockFetch, type Call } from "@/test/fetch";
import { navigation } from "@/test/navigation";
import { renderWithProviders } from "@/test/render";
import { Composer } from "./Composer";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);

const NOW = "2026-01-15T12:00:00Z";

function command(name: string, description: string, argument_hint: string | null = null): SlashCommandView {
  return { id: `cmd-${name}`, name, description, argument_hint, allowed_tools: [], model: null, body: `Do ${name}: $ARGUMENTS`, enabled: true, system: false, created_at: NOW, updated_at: NOW };
}

function preset(name: string): PresetView {
  return {
    id: `preset-${name}`,
    name,
    description: `The ${name} preset`,
    model: null,
    permission_mode: "plan",
    prompt_template: null,
    skill_ids: [],
    mcp_server_ids: [],
    slash_command_ids: [],
    subagent_ids: [],
    system: false,
    created_at: NOW,
    updated_at: NOW,
  };
}

/** The library routes the composer reads on mount, and `POST /tasks`. */
function server({ commands = [] as SlashCommandView[], presets = [] as PresetView[], task }: { commands?: SlashCommandView[]; presets?: PresetView[]; task?: (call: Call) => unknown } = {}) {
  return mockFetch({
    "GET /slash-commands": { slash_commands: commands },
    "GET /presets": { presets },
    "POST /tasks": task ?? { session_id: "s-1", run_id: "r-1", status: "queued" },
    "POST /attachments": { id: "att-1", name: "notes.txt", size: 5, content_type: "text/plain", created_at: NOW },
  });
}

const prompt = () => screen.getByTestId("prompt") as HTMLTextAreaElement;
const submit = () => screen.getByTestId("submit") as HTMLButtonElement;
const taskBodies = (calls: Call[]) => calls.filter((c) => c.method === "POST" && c.path === "/tasks").map((c) => c.body as CreateTaskRequest);

beforeEach(() => navigation.reset());

describe("Composer", () => {
  it("starts disabled, enables on a non-blank prompt, and sends it as a new task", async () => {
    const { calls } = server();
    const onCreated = vi.fn();
    const { user } = renderWithProviders(<Composer onCreated={onCreated} />);
    expect(screen.getByRole("form", { name: "New task" })).toBeTruthy();
    expect(submit().disabled).toBe(true);
    expect(submit().textContent).toBe("Start task");

    await user.type(prompt(), "   ");
    expect(submit().disabled, "blank prompts are not sent").toBe(true);
    await user.clear(prompt());
    await user.type(prompt(), "Write a haiku");
    expect(submit().disabled).toBe(false);
    await user.click(submit());

    await waitFor(() => expect(onCreated).toHaveBeenCalledTimes(1));
    expect(onCreated).toHaveBeenCalledWith({ session_id: "s-1", run_id: "r-1", status: "queued" }, "Write a haiku");
    const [body] = taskBodies(calls);
    expect(body).toMatchObject({ prompt: "Write a haiku", session_id: null, model: null, permission_mode: null, attachments: [], git: null, preset_id: null, project_id: null });
    expect(body!.client_request_id, "every submit carries an idempotency id").toBeTruthy();
    // Sent: the field is empty again, and the button with it.
    expect(prompt().value).toBe("");
    expect(submit().disabled).toBe(true);
  });

  it("submits with Ctrl+Enter", async () => {
    const { calls } = server();
    const onCreated = vi.fn();
    const { user } = renderWithProviders(<Composer onCreated={onCreated} />);
    await user.type(prompt(), "Quick one");
    await user.keyboard("{Control>}{Enter}{/Control}");
    await waitFor(() => expect(onCreated).toHaveBeenCalledTimes(1));
    expect(taskBodies(calls).map((b) => b.prompt)).toEqual(["Quick one"]);
  });

  it("is disabled and says so while sending; a failure is shown and the same request id is reused on retry", async () => {
    let release!: () => void;
    let attempt = 0;
    const { calls } = server({
      task: () => {
        attempt += 1;
        if (attempt === 1) return apiError(422, "validation_error", "prompt is too long");
        return new Promise((resolve) => {
          release = () => resolve({ session_id: "s-2", run_id: "r-2", status: "queued" });
        });
      },
    });
    const onCreated = vi.fn();
    const { user } = renderWithProviders(<Composer onCreated={onCreated} />);
    await user.type(prompt(), "Try me");
    await user.click(submit());
    expect((await screen.findByRole("alert")).textContent).toBe("Prompt is too long");
    expect(onCreated).not.toHaveBeenCalled();
    expect(prompt().value, "the prompt is kept after a failure").toBe("Try me");

    await user.click(submit());
    await waitFor(() => expect(submit().textContent).toBe("Sending…"));
    expect(submit().disabled).toBe(true);
    expect(screen.queryByRole("alert"), "the old error is cleared").toBeNull();
    await act(async () => release());
    await waitFor(() => expect(onCreated).toHaveBeenCalledTimes(1));
    const [first, second] = taskBodies(calls);
    expect(second!.client_request_id).toBe(first!.client_request_id);
  });

  it("as a follow-up: says Send, or Queue behind a running run, and names the session", async () => {
    const { calls } = server();
    const onCreated = vi.fn();
    const { user, rerender } = renderWithProviders(<Composer sessionId="s-9" onCreated={onCreated} />);
    expect(screen.getByRole("form", { name: "Follow-up message" })).toBeTruthy();
    expect(submit().textContent).toBe("Send");
    expect(prompt().placeholder).toBe("Send a follow-up…");
    rerender(<Composer sessionId="s-9" busy onCreated={onCreated} />);
    expect(submit().textContent).toBe("Queue");
    expect(prompt().placeholder).toBe("Queue a follow-up…");
    await user.type(prompt(), "and then?");
    await user.click(submit());
    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    expect(taskBodies(calls)[0]).toMatchObject({ prompt: "and then?", session_id: "s-9", permission_mode: null, git: null });
  });

  it("suggests the user's slash commands after /, and Enter puts the chosen one in the prompt", async () => {
    server({ commands: [command("review", "Reviews the change", "[file]"), command("release", "Cuts a release"), command("deploy", "Ships it")] });
    const { user } = renderWithProviders(<Composer onCreated={vi.fn()} />);
    // The commands arrive after mounting.
    await user.type(prompt(), "/re");
    const list = await screen.findByTestId("slash-suggestions");
    const options = within(list).getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(expect.arrayContaining([expect.stringContaining("/review"), expect.stringContaining("/release")]));
    expect(options.some((o) => o.textContent?.includes("/deploy")), "only matching commands").toBe(false);
    expect(list.textContent).toContain("Reviews the change");
    expect(options[0]!.getAttribute("aria-selected")).toBe("true");
    expect(prompt().getAttribute("aria-activedescendant")).toBe(options[0]!.id);

    await user.keyboard("{ArrowDown}");
    expect(within(list).getAllByRole("option")[1]!.getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{ArrowUp}{Enter}");
    await waitFor(() => expect(screen.queryByTestId("slash-suggestions")).toBeNull());
    expect(prompt().value).toMatch(/^\/re(view|lease) $/);
  });

  it("closes the suggestions with Escape without changing the prompt", async () => {
    server({ commands: [command("review", "Reviews the change")] });
    const { user } = renderWithProviders(<Composer onCreated={vi.fn()} />);
    await user.type(prompt(), "/rev");
    await screen.findByTestId("slash-suggestions");
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("slash-suggestions")).toBeNull();
    expect(prompt().value).toBe("/rev");
  });

  it("offers the presets when there are any, and sends the chosen one", async () => {
    const { calls } = server({ presets: [preset("careful")] });
    const onCreated = vi.fn();
    const { user } = renderWithProviders(<Composer onCreated={onCreated} />);
    const picker = (await screen.findByTestId("preset")) as HTMLSelectElement;
    expect(Array.from(picker.options).map((o) => o.textContent)).toEqual(["No preset", "Preset: careful"]);
    await user.selectOptions(picker, "preset-careful");
    await user.type(prompt(), "Be careful");
    await user.click(submit());
    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    // The preset's mode fills the option it sets.
    expect(taskBodies(calls)[0]).toMatchObject({ preset_id: "preset-careful", permission_mode: "plan" });
  });

  it("has no preset picker without presets", async () => {
    const { calls } = server();
    renderWithProviders(<Composer onCreated={vi.fn()} />);
    await waitFor(() => expect(calls.some((c) => c.path === "/presets")).toBe(true));
    expect(screen.queryByTestId("preset")).toBeNull();
  });

  it("uploads a chosen attachment at once, lists it, sends its id, and can remove it", async () => {
    const { calls } = server();
    const onCreated = vi.fn();
    const { user, container } = renderWithProviders(<Composer onCreated={onCreated} />);
    expect(screen.getByRole("button", { name: "Attach" })).toBeTruthy();
    const input = container.querySelector('input[type="file"]') as HTMLInputElement;
    await user.upload(input, new File(["hello"], "notes.txt", { type: "text/plain" }));
    const chips = await screen.findByRole("list", { name: "Attachments" });
    await waitFor(() => expect(chips.querySelector(".chip-done")).not.toBeNull());
    expect(chips.textContent).toContain("notes.txt");
    expect(calls.filter((c) => c.method === "POST" && c.path === "/attachments")).toHaveLength(1);

    await user.type(prompt(), "Read the notes");
    await user.click(submit());
    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    expect(taskBodies(calls)[0]!.attachments).toEqual(["att-1"]);
    expect(screen.queryByRole("list", { name: "Attachments" }), "sent attachments are cleared").toBeNull();

    await user.upload(input, new File(["x"], "other.txt", { type: "text/plain" }));
    await user.click(await screen.findByRole("button", { name: "Remove other.txt" }));
    expect(screen.queryByRole("list", { name: "Attachments" })).toBeNull();
  });

  it("refuses to send while an attachment is still uploading", async () => {
    let finish!: () => void;
    const { calls } = mockFetch({
      "GET /slash-commands": { slash_commands: [] },
      "GET /presets": { presets: [] },
      "POST /attachments": () =>
        new Promise((resolve) => {
          finish = () => resolve({ id: "att-2", name: "big.bin", size: 1, content_type: "application/octet-stream", created_at: NOW });
        }),
      "POST /tasks": { session_id: "s-3", run_id: "r-3", status: "queued" },
    });
    const onCreated = vi.fn();
    const { user, container } = renderWithProviders(<Composer onCreated={onCreated} />);
    await user.upload(container.querySelector('input[type="file"]') as HTMLInputElement, new File(["x"], "big.bin"));
    await user.type(prompt(), "Use the file");
    await user.click(submit());
    expect((await screen.findByRole("alert")).textContent).toBe("Wait until the attachments have uploaded.");
    expect(taskBodies(calls)).toHaveLength(0);
    await act(async () => finish());
    await user.click(submit());
    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    expect(taskBodies(calls)[0]!.attachments).toEqual(["att-2"]);
  });

  it("shows a failed upload with the reason", async () => {
    mockFetch({
      "GET /slash-commands": { slash_commands: [] },
      "GET /presets": { presets: [] },
      "POST /attachments": apiError(413, "payload_too_large", "the file is larger than 25 MB"),
    });
    const { user, container } = renderWithProviders(<Composer onCreated={vi.fn()} />);
    await user.upload(container.querySelector('input[type="file"]') as HTMLInputElement, new File(["x"], "huge.iso"));
    const chips = await screen.findByRole("list", { name: "Attachments" });
    await waitFor(() => expect(chips.querySelector(".chip-failed")).not.toBeNull());
    expect(chips.textContent).toContain("The file is larger than 25 MB");
  });

  it("takes files dropped onto it", async () => {
    const { calls } = server();
    renderWithProviders(<Composer onCreated={vi.fn()} />);
    const form = screen.getByRole("form", { name: "New task" });
    const file = new File(["hello"], "notes.txt", { type: "text/plain" });
    fireEvent.drop(form, { dataTransfer: { files: [file], types: ["Files"] } });
    await waitFor(() => expect(calls.filter((c) => c.path === "/attachments")).toHaveLength(1));
    expect((await screen.findByRole("list", { name: "Attachments" })).textContent).toContain("notes.txt");
  });
});
