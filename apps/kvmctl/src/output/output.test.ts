import { describe, expect, it } from 'vitest';
import type { Event__Output } from '@kvmservice/api';
import { humanDuration } from './age.js';
import { formatEventLine, kubeArmorJson } from './events.js';
import { formatTable } from './table.js';

describe('humanDuration (kubectl AGE)', () => {
  it.each([
    [-5000, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [59_000, '59s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [125_000, '2m5s'],
    [9 * 60_000 + 59_000, '9m59s'],
    [10 * 60_000 + 30_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3600_000, '3h'],
    [3 * 3600_000 + 5 * 60_000, '3h5m'],
    [8 * 3600_000 + 5 * 60_000, '8h'],
    [47 * 3600_000, '47h'],
    [48 * 3600_000, '2d'],
    [50 * 3600_000, '2d2h'],
    [8 * 86400_000, '8d'],
    [729 * 86400_000, '729d'],
    [730 * 86400_000, '2y'],
    [800 * 86400_000, '2y70d'],
    [3000 * 86400_000, '8y'],
  ])('%d ms → %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe('formatTable (kubectl tabwriter: minwidth 6, padding 3)', () => {
  it('pads every column but the last to its widest cell plus three spaces, empty cells as <none>', () => {
    expect(formatTable(['NAME', 'STATUS', 'AGE'], [['a', 'Connected', '5s'], ['longer-name', '', '10m']])).toBe(
      'NAME          STATUS      AGE\n' + 'a             Connected   5s\n' + 'longer-name   <none>      10m\n',
    );
    expect(formatTable(['A', 'B'], [['x', 'y']])).toBe('A     B\nx     y\n');
  });
});

const event = (over: Partial<Event__Output>): Event__Output => ({
  timestamp: 1717259989360067000,
  updatedTime: '2024-06-01T16:39:49.360067Z',
  clusterName: '',
  hostName: 'kubearmor-dev',
  hostPpid: 1582,
  hostPid: 2420,
  ppid: 1582,
  pid: 2420,
  uid: 1000,
  parentProcessName: '/usr/bin/bash',
  processName: '/usr/bin/sleep',
  policyName: 'hsp-kubearmor-dev-proc-path-block',
  severity: '1',
  tags: '',
  atags: [],
  message: '',
  type: 'MatchedHostPolicy',
  source: '/usr/bin/bash',
  operation: 'Process',
  resource: '/usr/bin/sleep',
  data: 'lsm=SECURITY_BPRM_CHECK',
  eventData: {},
  enforcer: 'AppArmor',
  action: 'Block',
  result: 'Permission denied',
  cwd: '/',
  seq: 7,
  ...over,
});

describe('logs output', () => {
  it('one readable line per event, values with spaces quoted', () => {
    expect(formatEventLine(event({}))).toBe(
      '2024-06-01T16:39:49.360067Z kubearmor-dev Alert Process Block "Permission denied" source=/usr/bin/bash resource=/usr/bin/sleep policy=hsp-kubearmor-dev-proc-path-block severity=1 data=\"lsm=SECURITY_BPRM_CHECK\" pid=2420 uid=1000 process=/usr/bin/sleep parent=/usr/bin/bash enforcer=AppArmor\n',
    );
    expect(formatEventLine(event({ type: 'HostLog', updatedTime: '', policyName: '', severity: '', data: '', message: 'a "quoted" message' }))).toMatch(
      /^2024-06-01T16:39:49\.360Z kubearmor-dev Log Process Block .* message="a \\"quoted\\" message"\n$/,
    );
  });

  it('JSON with the field names of KubeArmor alerts (the upstream example alert)', () => {
    // docs-alert__kubearmor_vm__MatchedHostPolicy-block-sleep.json, but for Enforcer.
    expect(kubeArmorJson(event({}))).toEqual({
      Timestamp: 1717259989,
      UpdatedTime: '2024-06-01T16:39:49.360067Z',
      HostName: 'kubearmor-dev',
      HostPPID: 1582,
      HostPID: 2420,
      PPID: 1582,
      PID: 2420,
      UID: 1000,
      ParentProcessName: '/usr/bin/bash',
      ProcessName: '/usr/bin/sleep',
      PolicyName: 'hsp-kubearmor-dev-proc-path-block',
      Severity: '1',
      Type: 'MatchedHostPolicy',
      Source: '/usr/bin/bash',
      Operation: 'Process',
      Resource: '/usr/bin/sleep',
      Data: 'lsm=SECURITY_BPRM_CHECK',
      Enforcer: 'AppArmor',
      Action: 'Block',
      Result: 'Permission denied',
      Cwd: '/',
      Seq: 7,
    });
  });
});
