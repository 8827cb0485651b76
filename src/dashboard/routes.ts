import { Elysia } from 'elysia'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FIGURES } from '../model/figures'

const STATIC = join(import.meta.dir, 'static')
const fromPackage = (specifier: string) => Bun.resolveSync(specifier, import.meta.dir)

/**
 * Everything the dashboard and the API page need, served by the master itself from files in
 * this repository and in npm packages: no CDN, so both work on a network that reaches nothing.
 */
const ASSETS: Record<string, { path: string; type: string }> = {
  'app.js': { path: join(STATIC, 'app.js'), type: 'text/javascript' },
  'style.css': { path: join(STATIC, 'style.css'), type: 'text/css' },
  'uPlot.iife.min.js': { path: fromPackage('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { path: fromPackage('uplot/dist/uPlot.min.css'), type: 'text/css' },
  'swagger-ui-bundle.js': { path: fromPackage('swagger-ui-dist/swagger-ui-bundle.js'), type: 'text/javascript' },
  'swagger-ui.css': { path: fromPackage('swagger-ui-dist/swagger-ui.css'), type: 'text/css' },
}

const SWAGGER_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Node metrics master — API</title>
  <link rel="stylesheet" href="/assets/swagger-ui.css">
  <style>@media (prefers-color-scheme: dark) { body { background: #111; } .swagger-ui { filter: invert(88%) hue-rotate(180deg); } }</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/assets/swagger-ui-bundle.js"></script>
  <script>window.ui = SwaggerUIBundle({ url: '/swagger/json', dom_id: '#swagger-ui' })</script>
</body>
</html>`

const html = (body: string) => new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } })

/** The figure registry as the dashboard needs it: its charts are drawn from the same list. */
const figuresModule = () =>
  `export const FIGURES = ${JSON.stringify(FIGURES.map(({ field, unit, description, bounds, chart }) => ({ field, unit, description, bounds, chart })))}\n`

export function dashboardRoutes() {
  const files: Record<string, { type: string; bytes: Uint8Array }> = Object.fromEntries(
    Object.entries(ASSETS).map(([name, asset]) => [name, { type: asset.type, bytes: readFileSync(asset.path) }]),
  )
  files['figures.js'] = { type: 'text/javascript', bytes: new TextEncoder().encode(figuresModule()) }
  const index = readFileSync(join(STATIC, 'index.html'), 'utf8')
  return new Elysia({ name: 'dashboard' })
    .get('/', () => html(index), { detail: { hide: true } })
    .get('/swagger', () => html(SWAGGER_PAGE), { detail: { hide: true } })
    .get(
      '/assets/:file',
      ({ params }) => {
        // Own names only: /assets/constructor must not find Object's.
        const file = Object.hasOwn(files, params.file) ? files[params.file] : undefined
        if (!file) return new Response(JSON.stringify({ error: 'not_found', message: 'no such asset' }), { status: 404, headers: { 'content-type': 'application/json' } })
        return new Response(file.bytes, { headers: { 'content-type': `${file.type}; charset=utf-8`, 'cache-control': 'public, max-age=300' } })
      },
      { detail: { hide: true } },
    )
}
