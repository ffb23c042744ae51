// Renders a component for a test (jsdom) the way the app does: inside next-intl's provider with
// the catalog's messages (English unless asked) and a fresh TanStack Query client, with a
// user-event instance for typing and clicking. `next/navigation` is not mocked here (vi.mock works
// in the test file): see ./navigation.ts. Unmounts, restores mocks and clears the document after
// each test.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, type RenderOptions } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { NextIntlClientProvider } from "next-intl";
import type { ReactElement, ReactNode } from "react";
import { afterEach, vi } from "vitest";
import { CATALOG } from "@/i18n/catalog";
import type { Locale } from "@/i18n/locale";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  document.cookie.split(";").forEach((c) => {
    const name = c.split("=")[0]?.trim();
    if (name) document.cookie = `${name}=; max-age=0; path=/`;
  });
});

installBrowserStubs();

/** A query client for one test: no retries (a failure shows at once), nothing refetched behind
 * the test's back. */
export function testQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, staleTime: Infinity, gcTime: Infinity, refetchOnWindowFocus: false, refetchOnReconnect: false },
      mutations: { retry: false },
    },
  });
}

export interface Rendered extends ReturnType<typeof render> {
  user: ReturnType<typeof userEvent.setup>;
  queryClient: QueryClient;
}

export function Providers({ children, locale = "en", queryClient, now }: { children: ReactNode; locale?: Locale; queryClient: QueryClient; now?: Date }) {
  return (
    <NextIntlClientProvider locale={locale} messages={CATALOG[locale]} timeZone="UTC" now={now}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </NextIntlClientProvider>
  );
}

export function renderWithProviders(
  ui: ReactElement,
  {
    locale = "en",
    queryClient = testQueryClient(),
    now,
    ...options
  }: {
    locale?: Locale;
    queryClient?: QueryClient;
    /** next-intl's "now" for relative times (default: the clock). */
    now?: Date;
  } & Omit<RenderOptions, "wrapper"> = {},
): Rendered {
  const user = userEvent.setup();
  const result = render(ui, {
    ...options,
    wrapper: ({ children }) => (
      <Providers locale={locale} queryClient={queryClient} now={now}>
        {children}
      </Providers>
    ),
  });
  return { ...result, user, queryClient };
}

/** What jsdom lacks and the components use: observers, matchMedia, scrolling. */
function installBrowserStubs() {
  if (typeof window === "undefined") return;
  class NoopObserver {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  }
  const w = window as unknown as Record<string, unknown>;
  w.ResizeObserver ??= NoopObserver;
  w.IntersectionObserver ??= NoopObserver;
  w.matchMedia ??= (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener() {},
    removeListener() {},
    addEventListener() {},
    removeEventListener() {},
    dispatchEvent: () => false,
  });
  Element.prototype.scrollIntoView ??= function scrollIntoView() {};
  Element.prototype.scrollTo ??= function scrollTo() {};
}
