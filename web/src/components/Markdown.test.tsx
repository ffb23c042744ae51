// Agent Markdown: GitHub's flavour, and remote images held back until the reader clicks.
import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWithProviders } from "@/test/render";
import { Markdown } from "./Markdown";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

describe("Markdown", () => {
  it("renders tables, task lists, strikethrough and autolinks", () => {
    const { container } = renderWithProviders(
      <Markdown text={"| a | b |\n|---|--:|\n| 1 | 2 |\n\n- [x] done\n- [ ] open\n\n~~gone~~ see www.example.com"} />,
    );
    expect(container.querySelector(".md-table-wrap table")).toBeTruthy();
    expect(screen.getAllByRole("columnheader").map((h) => h.textContent)).toEqual(["a", "b"]);
    const boxes = screen.getAllByRole("checkbox") as HTMLInputElement[];
    expect(boxes.map((b) => b.checked)).toEqual([true, false]);
    expect(container.querySelector("del")?.textContent).toBe("gone");
    const link = screen.getByRole("link", { name: "www.example.com" });
    expect(link.getAttribute("href")).toBe("http://www.example.com");
    expect(link.getAttribute("target")).toBe("_blank");
    expect(link.getAttribute("rel")).toContain("noopener");
    expect(link.getAttribute("rel")).toContain("noreferrer");
  });

  it("shows a remote image as a placeholder naming its host, and loads it only on click", async () => {
    const { container, user } = renderWithProviders(<Markdown text={"![a chart](https://evil.example/x.png?leak=1)"} />);
    expect(container.querySelector("img")).toBeNull();
    const button = screen.getByRole("button", { name: /Load image from evil\.example/ });
    expect(button.textContent).toContain("a chart");
    await user.click(button);
    const img = container.querySelector("img")!;
    expect(img.getAttribute("src")).toBe("https://evil.example/x.png?leak=1");
    expect(img.getAttribute("referrerpolicy")).toBe("no-referrer");
  });

  it("renders inline data images, never loads relative ones without a resolver, and keeps raw HTML as text", () => {
    const { container } = renderWithProviders(
      <Markdown text={`![dot](${PNG}) ![local](plot.png) <img src="https://evil.example/raw.png"> [x](javascript:alert(1))`} />,
    );
    const imgs = [...container.querySelectorAll("img")];
    expect(imgs.map((i) => i.getAttribute("src"))).toEqual([PNG]);
    expect(screen.getByText("[image not shown: local]")).toBeTruthy();
    expect(container.textContent).toContain('<img src="https://evil.example/raw.png">');
    expect(screen.getByText("x").getAttribute("href") ?? "").not.toContain("javascript");
  });

  it("resolves a relative image through the given resolver", () => {
    const { container } = renderWithProviders(
      <Markdown text="![plot](./img/plot.png)" resolveImage={(p) => (p === "./img/plot.png" ? "https://store.test/plot.png?sig=1" : null)} />,
    );
    expect(container.querySelector("img")?.getAttribute("src")).toBe("https://store.test/plot.png?sig=1");
  });
});
