"""A TLS terminator in front of a stand-in, for a backend the stack reaches over https (an
existing Elasticsearch, say): listens with a certificate for the endpoint's host name, signed by
the run's test CA (which the collectors' trust store holds, as an image trusts a public CA), and
forwards each connection to a plain address.

    python3 tlsproxy.py LISTEN_HOST:PORT CERT KEY TARGET_HOST:PORT
"""

import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001
            pass


async def main():
    listen, cert, key, target = sys.argv[1:5]
    lhost, lport = listen.rsplit(":", 1)
    thost, tport = target.rsplit(":", 1)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def handle(cr, cw):
        try:
            tr, tw = await asyncio.open_connection(thost, int(tport))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, tw), pipe(tr, cw))

    server = await asyncio.start_server(handle, lhost, int(lport), ssl=ctx)
    print(f"tlsproxy listening on {listen} -> {target}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
