import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';

/** `antpeer-auth serve`: the token service, until SIGINT or SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .description('serve the token endpoint, the JWKS and the gateway')
    .action(async () => {
      const config = loadConfig();
      const server = await startServer(config);
      if (server.bootstrap.created) {
        const { username, generatedPassword } = server.bootstrap;
        const lines = [
          `Created the first client application "${username}".`,
          ...(generatedPassword ? [`Its password (shown once, stored only as a hash): ${generatedPassword}`] : []),
        ];
        process.stdout.write(`\n${lines.join('\n')}\n\n`);
      }
      server.app.log.info({ issuer: config.issuer, store: server.auth.store.kind }, `token endpoint at ${config.issuer}/auth/token`);
      const stop = async (signal: string) => {
        server.app.log.info({ signal }, 'shutting down');
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
