/**
 * A URL as it may be shown: scheme, host, port and path only — no user, password, query or fragment, where
 * credentials and signatures hide. Text that is not a URL is shown as "(not a URL)".
 */
export function shownUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname === "/" && !text.endsWith("/") ? "" : url.pathname}`;
  } catch {
    return "(not a URL)";
  }
}
