// A stand-in for `next/navigation` in component tests (jsdom has no Next.js router). Use it with
//
//   vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);
//
// and read or set `navigation` (the current path and query, the router's calls) in the test.
import { vi } from "vitest";

export const navigation = {
  pathname: "/",
  search: new URLSearchParams(),
  params: {} as Record<string, string>,
  router: {
    push: vi.fn<(href: string) => void>(),
    replace: vi.fn<(href: string) => void>(),
    refresh: vi.fn<() => void>(),
    back: vi.fn<() => void>(),
    forward: vi.fn<() => void>(),
    prefetch: vi.fn<(href: string) => void>(),
  },
  /** Back to `/`, no query, fresh router spies. */
  reset() {
    navigation.pathname = "/";
    navigation.search = new URLSearchParams();
    navigation.params = {};
    for (const fn of Object.values(navigation.router)) fn.mockReset();
  },
};

export const navigationModule = {
  usePathname: () => navigation.pathname,
  useSearchParams: () => navigation.search,
  useParams: () => navigation.params,
  useRouter: () => navigation.router,
  useSelectedLayoutSegment: () => null,
  useSelectedLayoutSegments: () => [],
  redirect: (href: string) => {
    throw new Error(`redirect(${href})`);
  },
  notFound: () => {
    throw new Error("notFound()");
  },
};
