/** The admin's tracer scope: the instrumentation scope of the spans the admin starts itself. */
export const ADMIN_TRACER = "@flotilla/admin";
