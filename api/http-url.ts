/** An absolute http(s) URL of at most 2000 characters: what a notifyHook, webhook or link may be. */
export const isHttpUrl = (s: string): boolean => s.length <= 2000 && /^https?:\/\/[^\s/]+/i.test(s) && URL.canParse(s);
