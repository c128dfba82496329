/**
 * Host services, injected into createRunner({services}): the parent-side half of the `service`
 * and `serviceAsync` ops of host-ops.ts. runtime/ knows only these types; services/ implements
 * them, and cli/, dev/ and index.ts wire them in.
 */
import type { TransferData } from './host-ops.js';

/** A service op is synchronous for the function (the isolate waits) or returns a promise. */
export type ServiceOpMode = 'sync' | 'async';

/** What a service op knows of the call that made it. */
export interface ServiceCall {
  /** Aborted when the call ends, fails, hits a limit or its sandbox crashes: stop all work then. */
  signal: AbortSignal;
  /** The function that was called (the entry point of the call). */
  functionName: string;
  /** What the caller of the call passed as ExecuteOptions.origin (opaque to the runtime). */
  origin?: CallOrigin | undefined;
}

/**
 * Who made a call, as the caller describes it: the DATABASE-trigger dispatcher names the chain
 * of triggers that led to it, so that writes the call makes carry it and a loop can be bounded.
 */
export interface CallOrigin {
  /** Trigger names, outermost first; empty or absent for a call nobody's write caused. */
  triggers?: readonly string[] | undefined;
}

/**
 * One operation of a host service. `run` gets the data the guest wrapper sent (check it: it
 * comes from the sandbox) and returns plain data (TransferData). A throw (or rejection) reaches
 * the function as an Error with the same message.
 */
export interface ServiceOp<Arg = never, Result = TransferData> {
  mode: ServiceOpMode;
  /**
   * The op answers the same, whatever its data, for as long as the runner lives (the mongodb
   * service's data source names): the sandbox process keeps its first successful answer and
   * serves it again without the trip to the parent.
   */
  constant?: boolean | undefined;
  run(arg: Arg, call: ServiceCall): Result | Promise<Result>;
}

/** A host service: `context.http` is `{name: 'http', ops: {request}}`, reached as 'http.request'. */
export interface HostService {
  name: string;
  // `never` arguments: any op's run() fits; the guest wrapper and the op agree on the data.
  ops: Readonly<Record<string, ServiceOp<never, unknown>>>;
}

/** Service and op names: a JS identifier each, as they appear in `'<service>.<op>'`. */
export const SERVICE_NAME = /^[A-Za-z_$][\w$]*$/;
