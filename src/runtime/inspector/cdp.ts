/**
 * What both halves of the debugger relay share: the messages between the runner's relay
 * (relay.ts, parent process) and the sandbox's sessions (sandbox-inspector.ts), which Chrome
 * DevTools Protocol commands change a session's state (replayed into the session of a new
 * isolate). Type-checked with the guest too (protocol.ts imports it): no Node globals here.
 */

/** What the relay sends to the sandbox process (protocol.ts `inspector`). */
export type InspectorAction =
  /** One CDP message from the debugger, its `id` already renumbered by the relay. */
  | { kind: 'message'; message: string }
  /** A new sandbox process: the state commands the debugger sent so far, to replay. */
  | { kind: 'replay'; messages: string[] }
  /** The debugger went away: drop its breakpoints and let a paused call go on. */
  | { kind: 'detach' };

/** What the sandbox process sends back. */
export type InspectorEvent =
  /** A CDP response or notification from V8. */
  | { kind: 'message'; message: string }
  /** The isolate paused in (or resumed from) the debugger: time limits stop (or go on). */
  | { kind: 'paused'; paused: boolean };

/**
 * Commands whose effect lives in the session, not in one script or object: a session on a new
 * isolate (a lane replaced, a hot reload, a new sandbox process) gets them again, in order, so
 * breakpoints and settings survive. V8 names a `setBreakpointByUrl` breakpoint by its url and
 * position, so the replayed one has the same id the debugger knows.
 */
const STATE_COMMANDS = new Set([
  'Runtime.enable',
  'Runtime.disable',
  'Runtime.setAsyncCallStackDepth',
  'Runtime.setCustomObjectFormatterEnabled',
  'Debugger.enable',
  'Debugger.disable',
  'Debugger.setBreakpointByUrl',
  'Debugger.removeBreakpoint',
  'Debugger.setPauseOnExceptions',
  'Debugger.setBreakpointsActive',
  'Debugger.setSkipAllPauses',
  'Debugger.setAsyncCallStackDepth',
  'Debugger.setBlackboxPatterns',
  'Profiler.enable',
  'Profiler.disable',
]);

export function isStateCommand(method: unknown): boolean {
  return typeof method === 'string' && STATE_COMMANDS.has(method);
}

/** A CDP message's `id` and `method`, or undefined when it is not a JSON object. */
export function parseCdp(
  text: string,
):
  | { id?: number; method?: string; params?: Record<string, unknown>; [key: string]: unknown }
  | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as { id?: number; method?: string })
      : undefined;
  } catch {
    return undefined;
  }
}
