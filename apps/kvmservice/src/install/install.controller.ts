/**
 * HTTP: the agent installer (`GET /install.sh?token=…`, or the token as
 * `Authorization: Bearer …` so it stays out of URLs and logs) and the agent bundle
 * (`GET /agent/kvmagent.tgz`, `GET /agent/kvmagent.tgz.sha256`).
 */
import { createReadStream } from 'node:fs';
import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiError } from '../api-error.js';
import { BUNDLE_PATH, InstallService } from './install.service.js';

function sendError(res: Response, e: unknown): void {
  if (e instanceof ApiError) {
    res.status(e.httpStatus).type('text/plain').set('Cache-Control', 'no-store').send(`${e.message}\n`);
    return;
  }
  throw e;
}

@Controller()
export class InstallController {
  constructor(private readonly install: InstallService) {}

  @Get('install.sh')
  async installScript(
    @Query('token') query: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    try {
      if (query !== undefined && typeof query !== 'string') throw new ApiError('InvalidArgument', 'token: give it once');
      const bearer = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
      const script = await this.install.scriptForToken(bearer ?? query, { host: req.headers.host, protocol: req.protocol === 'https' ? 'https' : 'http' });
      // It carries a token: never cached.
      res.status(200).type('text/x-shellscript').set('Cache-Control', 'no-store').send(script);
    } catch (e) {
      sendError(res, e);
    }
  }

  @Get(BUNDLE_PATH.slice(1))
  async bundle(@Res() res: Response): Promise<void> {
    try {
      const bundle = await this.install.bundle();
      res.status(200).set({
        'Content-Type': 'application/gzip',
        'Content-Length': String(bundle.size),
        'Content-Disposition': 'attachment; filename="kvmagent.tgz"',
        ETag: `"${bundle.sha256}"`,
        'X-Content-SHA256': bundle.sha256,
      });
      const stream = createReadStream(bundle.path);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (e) {
      sendError(res, e);
    }
  }

  @Get(`${BUNDLE_PATH.slice(1)}.sha256`)
  async bundleSha256(@Res() res: Response): Promise<void> {
    try {
      const bundle = await this.install.bundle();
      res.status(200).type('text/plain').send(`${bundle.sha256}  kvmagent.tgz\n`);
    } catch (e) {
      sendError(res, e);
    }
  }
}
