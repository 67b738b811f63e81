"""A part 6 PDC written the way a student writes it, with websocket-client.

usage: student_ws_pdc.py <server> <port> <command>
"""
import sys

import websocket


def main():
    server, port, command = sys.argv[1], sys.argv[2], sys.argv[3]
    ws = websocket.create_connection(f"ws://{server}:{port}/")
    ws.send(command)
    while True:
        try:
            message = ws.recv()
        except websocket.WebSocketConnectionClosedException:
            break
        if not message:
            break
        if isinstance(message, bytes):
            message = message.decode()
        print(message)
    ws.close()


if __name__ == "__main__":
    main()
