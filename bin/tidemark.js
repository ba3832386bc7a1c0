#!/usr/bin/env node
// Launcher: runs the TypeScript entry point through tsx's loader, so the
// `tidemark` command needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('./tidemark.ts');
