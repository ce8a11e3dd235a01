import { describe, expect, it } from 'vitest';
import { ConfigError, currentToken, resolveAgentConfig } from './config.js';

const noFile = () => false;
const files = (map: Record<string, string>) => ({
  read: (p: string) => {
    if (!(p in map)) throw new Error(`ENOENT: ${p}`);
    return map[p]!;
  },
  exists: (p: string) => p in map,
});

function parse(argv: string[], env: Record<string, string> = {}, fs = files({})) {
  return resolveAgentConfig(argv, env, fs.read, fs.exists);
}

describe('resolveAgentConfig', () => {
  it('reads flags: repeated and comma-listed servers, labels, sources, visibility, sizes', () => {
    const { command, config } = parse([
      '--server', 'a:1,b:2', '--server', '[::1]:3', '--token', 'abcdef.0123456789abcdef', '--state-dir', '/tmp/s',
      '--labels', 'env=prod,tier=web', '--labels', 'zone=a', '--lsm', 'apparmor', '--dry-run',
      '--log-source', '/var/log/audit/audit.log', '--log-source', 'journald', '--visibility', 'process,network',
      '--spool-max-bytes', '16Mi', '--hostname', 'web-1', '--insecure',
    ]);
    expect(command).toBe('run');
    expect(config).toMatchObject({
      servers: ['a:1', 'b:2', '[::1]:3'],
      token: 'abcdef.0123456789abcdef',
      stateDir: '/tmp/s',
      credentialFile: '/tmp/s/credential.json',
      labels: { env: 'prod', tier: 'web', zone: 'a' },
      lsm: 'apparmor',
      dryRun: true,
      logSources: ['/var/log/audit/audit.log', 'journald'],
      visibility: ['process', 'network'],
      spoolMaxBytes: 16 * 1024 * 1024,
      hostname: 'web-1',
      insecure: true,
    });
  });

  it('takes the config file (kebab or camel keys), environment over file, flags over both', () => {
    const fs = files({
      '/etc/kvmagent/config.yaml': 'server: [s1:1, s2:2]\ntoken: fromfile.0123456789abcdef\nstateDir: /var/lib/x\nlabels: {env: prod}\nlog-level: debug\nheartbeat-interval: 5\n',
    });
    const fromFile = parse([], {}, fs).config;
    expect(fromFile).toMatchObject({ servers: ['s1:1', 's2:2'], token: 'fromfile.0123456789abcdef', stateDir: '/var/lib/x', labels: { env: 'prod' }, logLevel: 'debug', heartbeatSeconds: 5, configFile: '/etc/kvmagent/config.yaml' });
    expect(parse([], { KVMAGENT_TOKEN: 'fromenv.0123456789abcdef' }, fs).config.token).toBe('fromenv.0123456789abcdef');
    expect(parse(['--token', 'fromflag.0123456789abcdef'], { KVMAGENT_TOKEN: 'fromenv.0123456789abcdef' }, fs).config.token).toBe('fromflag.0123456789abcdef');
  });

  it.each([
    [[], /--server is required/],
    [['--server', 'nohostport'], /--server: "nohostport" is not HOST:PORT/],
    [['--server', 'a:1', '--lsm', 'smack'], /--lsm: must be auto, apparmor, selinux or none/],
    [['--server', 'a:1', '--visibility', 'process,disk'], /--visibility: "disk" is not one of/],
    [['--server', 'a:1', '--log-source', 'relative.log'], /--log-source: "relative.log" must be an absolute path/],
    [['--server', 'a:1', '--labels', 'novalue'], /--labels: "novalue" is not key=value/],
    [['--server', 'a:1', '--spool-max-bytes', '1k'], /--spool-max-bytes: must be a size of at least 64Ki/],
    [['--server', 'a:1', '--heartbeat-interval', '0'], /--heartbeat-interval: must be a number of seconds/],
    [['--server', 'a:1', '--hostname', 'Web_1'], /--hostname: "Web_1" is not a lower-case RFC 1123 host name/],
    [['--server', 'a:1', '--ca', '/x', '--insecure'], /--ca and --insecure exclude each other/],
    [['--server', 'a:1', '--bogus'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('refuses %j with one clear line', (argv, message) => {
    expect(() => parse(argv as string[])).toThrow(ConfigError);
    expect(() => parse(argv as string[])).toThrow(message);
  });

  it('names the file and key of a bad config file', () => {
    expect(() => parse(['--config', '/c.yaml'], {}, files({ '/c.yaml': 'serverz: [a:1]\n' }))).toThrow('/c.yaml: unknown setting "serverz"');
    expect(() => parse(['--config', '/c.yaml'], {}, files({ '/c.yaml': 'server: a:1\ndry-run: maybe\n' }))).toThrow('/c.yaml: dry-run: must be true or false, got "maybe"');
    expect(() => parse(['--config', '/c.yaml'], {}, files({ '/c.yaml': '- a\n- b\n' }))).toThrow('/c.yaml: must be a YAML map of settings');
    expect(() => parse(['--config', '/c.yaml'], {}, files({ '/c.yaml': 'server: [a:1\n' }))).toThrow(/^\/c\.yaml: /);
  });

  it('status and version need no server', () => {
    expect(parse(['status', '--state-dir', '/tmp/s'], {}, { read: () => '', exists: noFile }).command).toBe('status');
    expect(parse(['--version']).command).toBe('version');
  });

  it('re-reads a new token from the config file while waiting to join', () => {
    const map: Record<string, string> = { '/c.yaml': 'server: a:1\ntoken: first1.0123456789abcdef\n' };
    const fs = files(map);
    const { config } = parse(['--config', '/c.yaml'], {}, fs);
    map['/c.yaml'] = 'server: a:1\ntoken: second.0123456789abcdef\n';
    expect(currentToken(config, {}, fs.read)).toBe('second.0123456789abcdef');
    map['/c.yaml'] = 'server: [a:1';
    expect(currentToken(config, {}, fs.read)).toBe('first1.0123456789abcdef');
  });
});
