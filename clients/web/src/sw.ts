// The service worker: keeps the app shell and Automerge's WebAssembly in a cache so the app
// starts with no connection. API calls always go to the network. A new version installs beside
// the old one and waits: the page offers to reload (src/ui/update.ts) and, when the user says so,
// asks it to take over. The first version takes over at once.
/// <reference lib="webworker" />
export {};
declare const self: ServiceWorkerGlobalScope;
declare const __SHELL__: string[];
declare const __VERSION__: string;

const CACHE = `bothy-app-${__VERSION__}`;
const SHELL = __SHELL__;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL.map((f) => new Request(f, { cache: "no-cache" }))))
      // Nothing to replace: the first version serves at once. A new one waits for the page.
      .then(() => (self.registration.active ? undefined : self.skipWaiting())),
  );
});

self.addEventListener("message", (event) => {
  if ((event.data as { type?: string } | null)?.type === "skipWaiting") void self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("bothy-app-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const path = url.pathname.slice(scope.pathname.length);
      const key = req.mode === "navigate" || path === "" ? "./" : req;
      const hit = await cache.match(key, { ignoreSearch: true });
      if (hit) return hit;
      return fetch(req);
    })(),
  );
});
