#!/usr/bin/env node
// Regenerates cli/oclif.manifest.json from the compiled commands (dist/); run after `tsc -b cli`.
// flotctl also regenerates it by itself when it is missing or older than the last build.
import { writeManifest } from "../dist/manifest.js";

const count = await writeManifest();
console.log(`oclif.manifest.json: ${count} commands`);
