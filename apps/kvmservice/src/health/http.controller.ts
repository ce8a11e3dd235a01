/** The HTTP port: liveness, readiness (the store answers), Prometheus metrics. */
import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import type { Store } from '@kvmservice/store';
import type { Response } from 'express';
import { MetricsService } from '../metrics/metrics.service.js';
import { STORE } from '../tokens.js';

const READY_TIMEOUT_MS = 2000;

@Controller()
export class HttpController {
  constructor(
    @Inject(STORE) private readonly store: Store,
    private readonly metrics: MetricsService,
  ) {}

  @Get('healthz')
  @Header('Content-Type', 'text/plain')
  @HttpCode(200)
  healthz(): string {
    return 'ok\n';
  }

  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    try {
      await Promise.race([
        this.store.currentRevision(),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS).unref()),
      ]);
      res.status(200).type('text/plain').send('ok\n');
    } catch (e) {
      res.status(503).type('text/plain').send(`store unreachable: ${(e as Error).message}\n`);
    }
  }

  @Get('metrics')
  async metricsText(@Res() res: Response): Promise<void> {
    res.status(200).type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
