// The pieces of several engines that need no engine: the clock offset from exchanges, the error
// for engines that do not answer, clients for addresses, and how an engine is described.
import { bestOffset } from '../lab/runtime/clock-offset';
import { dockerFor, tlsHint, UnreachableEngineError } from '../lab/runtime/engine-set';
import { NoDockerEngineError } from '../lab/runtime/select-runtime';
import { describeEngine } from '../lab/report/format';

describe('clock offset', () => {
  it('takes the exchange with the smallest round trip, offset from its midpoint', () => {
    // (t0, remote, t1), lab ms: round trips 4, 1 and 2 ms; the 1 ms one has its midpoint at
    // 1000.5 and the remote clock read 1003.5 then: 3 ms ahead.
    expect(
      bestOffset([
        [100, 110, 104],
        [1000, 1003.5, 1001],
        [2000, 1990, 2002],
      ]),
    ).toEqual({ offsetMs: 3, rttMs: 1, samples: 3 });
  });

  it('a clock behind the lab has a negative offset', () => {
    expect(bestOffset([[50, 40, 52]])).toEqual({ offsetMs: -11, rttMs: 2, samples: 1 });
  });

  it('needs an exchange', () => {
    expect(() => bestOffset([])).toThrow('no clock exchange');
  });
});

describe('engines that do not answer', () => {
  it('names every engine with its address and why, and says nothing was started', () => {
    const e = new UnreachableEngineError([
      { name: 'b', address: 'unix:///x.sock', reason: 'unix:///x.sock: no such socket' },
      { name: 'c', address: 'tcp://h:1', reason: 'tcp://h:1: connection refused' },
    ]);
    // The CLI maps it to the exit code of a missing engine (3).
    expect(e).toBeInstanceOf(NoDockerEngineError);
    expect(e.message.split('\n')).toEqual([
      'forklab: engine "b" (unix:///x.sock) did not answer: no such socket',
      'forklab: engine "c" (tcp://h:1) did not answer: connection refused',
      "Nothing was started. Start that engine (for a second engine on this machine: bash scripts/second-engine.sh start) or fix its address in the scenario's engines.",
    ]);
  });
});

describe('clients for engine addresses', () => {
  it('a unix socket, a tcp address, and TLS files that are missing named with the field', () => {
    type Modem = { socketPath?: string; protocol?: string; host?: string; port?: string };
    const modem = (d: { modem: unknown }): Modem => d.modem as Modem;
    expect(modem(dockerFor('unix:///run/e2/docker.sock', undefined)).socketPath).toBe(
      '/run/e2/docker.sock',
    );
    const tcp = modem(dockerFor('tcp://10.0.0.2:2375', undefined));
    expect([tcp.protocol, tcp.host, Number(tcp.port)]).toEqual(['http', '10.0.0.2', 2375]);
    expect(() =>
      dockerFor('tcp://10.0.0.2:2376', { ca: '/nonexistent/ca.pem', cert: '/c', key: '/k' }),
    ).toThrow('engine tcp://10.0.0.2:2376: tls.ca /nonexistent/ca.pem: ENOENT');
    expect(() => dockerFor('http://h:1', undefined)).toThrow(/scheme "http:\/\/"/);
  });
});

describe('an engine in the environment section', () => {
  it('says what ran on it, its clock, and the images moved to it', () => {
    expect(
      describeEngine({
        name: 'engine2',
        address: 'unix:///run/e2/docker.sock',
        host: '127.0.0.1',
        version: '20.10.24',
        roles: ['post-fork', 'pre-fork'],
        clockOffsetMs: -0.0604,
        clockRttMs: 0.642,
        clockSamples: 16,
        images: [{ tag: 'forklab-server:abc', moved: true, ms: 3800, bytes: 148_290_560 }],
      }),
    ).toBe(
      'engine2 unix:///run/e2/docker.sock (Docker 20.10.24): post-fork, pre-fork; clock offset -0.060 ms (±0.321 ms, best of 16); forklab-server:abc moved in 3.8 s (148 MB)',
    );
  });
});

describe('TLS failures of a tcp:// engine', () => {
  const tls = { ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' };
  const spec = { address: 'tcp://10.0.0.2:2376', tls };

  it('a certificate the CA did not sign: names tls.ca, its file and the fix', () => {
    expect(tlsHint('server', spec, 'unable to verify the first certificate')).toBe(
      'unable to verify the first certificate (its TLS certificate is not signed by the CA in ' +
        'engines.server.tls.ca, /certs/ca.pem: give the CA that signed it, as docker --tlscacert takes it)',
    );
  });

  it('an expired certificate: names tls.ca and says renew', () => {
    expect(tlsHint('server', spec, 'certificate has expired')).toMatch(
      /^certificate has expired \(.*engines\.server\.tls\.ca, \/certs\/ca\.pem, is out of date: renew it\)$/,
    );
  });

  it("a certificate for another host: names the address's host", () => {
    expect(
      tlsHint('server', spec, "Hostname/IP does not match certificate's altnames: IP: 10.0.0.2"),
    ).toMatch(
      /not for the host of engines\.server\.address: use the host or IP the certificate names\)$/,
    );
  });

  it("OpenSSL's alert on one line, naming tls.cert", () => {
    const raw =
      'write EPROTO 40F7:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/rec_layer_s3.c:1586:\n  SSL alert number 42';
    expect(tlsHint('server', spec, raw)).toBe(
      'write EPROTO TLS alert "bad certificate" SSL alert number 42 (the engine refused the client certificate in ' +
        'engines.server.tls.cert, /certs/cert.pem: give a certificate and key signed by the CA the engine trusts, its --tlscacert)',
    );
  });

  it('a TLS engine given without tls files: says to give them', () => {
    expect(
      tlsHint(
        'server',
        { address: 'tcp://10.0.0.2:2376' },
        'Client sent an HTTP request to an HTTPS server.',
      ),
    ).toMatch(/\(the engine speaks TLS: give engines\.server\.tls: \{ ca, cert, key \}/);
  });

  it('anything else: as it was', () => {
    expect(tlsHint('server', spec, 'connect ECONNREFUSED 10.0.0.2:2376')).toBe(
      'connect ECONNREFUSED 10.0.0.2:2376',
    );
  });
});
