/** The propeller's tracer scope: the instrumentation scope of the spans the propeller starts itself. */
export const PROPELLER_TRACER = "@flotilla/propeller";
