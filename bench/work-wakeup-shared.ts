/** What bench/work-wakeup.ts and its child process agree on. */
export const WAKEUP_NS = "wakeup";
export const WAKEUP_KEY = "jobs";
