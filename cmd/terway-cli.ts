#!/usr/bin/env node
import { processIo, runCli } from '../src/cli/main.js';

process.exitCode = await runCli(process.argv, processIo());
