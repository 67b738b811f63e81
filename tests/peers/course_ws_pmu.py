"""A WebSocket PMU written the way the course's server behaves (lab part 6),
with the `websockets` package.

Each "This is PMU data i" is sent as its own *binary* message; floodme as one
message; then a normal close.

usage: course_ws_pmu.py [--port P] [--count N]
Prints "listening on 127.0.0.1:<port>" once ready.
"""
import argparse
import asyncio

import websockets


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=15)
    args = parser.parse_args()

    async def handler(ws):
        command = await ws.recv()
        if isinstance(command, bytes):
            command = command.decode(errors="replace")
        if command.startswith("CMD_short:"):
            delay = float(command.split(":", 1)[1])
            for i in range(args.count):
                await ws.send(f"This is PMU data {i}".encode())
                await asyncio.sleep(delay)
        elif command == "CMD_floodme":
            await ws.send(b"O Romeo, Romeo! " * 3584)
        else:
            await ws.send("ERROR: unknown command")
        await ws.close()

    async with websockets.serve(handler, "127.0.0.1", args.port) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
