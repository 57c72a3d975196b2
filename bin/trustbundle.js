#!/usr/bin/env node
// The package's `trustbundle` command. Node 24 runs the TypeScript sources directly.
import { main } from '../operator/src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
