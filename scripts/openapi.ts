// Writes the OpenAPI description of the events route (scripts/openapi-document.ts). `npm run openapi` updates the
// committed openapi.yaml; the build writes dist/openapi.yaml, the copy the package ships.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderOpenApi } from './openapi-document.js';

const target = resolve(process.argv[2] ?? 'openapi.yaml');
writeFileSync(target, renderOpenApi());
