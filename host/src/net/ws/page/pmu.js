// The PDC of lab part 6, in the browser: one WebSocket per command, to the
// PMU that served this page. Messages are shown as they arrive; the PMU's
// binary messages are decoded as UTF-8 text, as the course's clients did.
"use strict";

const $ = (id) => document.getElementById(id);
const LONG = 1024; // a longer message (the floodme) is shown collapsed
const decoder = new TextDecoder("utf-8");
let socket = null;

function setState(text, state) {
  $("state").textContent = text;
  $("state").dataset.state = state;
}

function busy(on) {
  for (const b of document.querySelectorAll("button")) b.disabled = on;
}

function line(time, node, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  const t = document.createElement("span");
  t.className = "time";
  t.textContent = "+" + time.toFixed(3) + " s";
  li.append(t, node);
  $("log").append(li);
  return li;
}

// Why a WebSocket that never opened was refused. The browser hides the
// HTTP status of a refused upgrade from pages; the PMU answers 503 while
// every session is taken, so a plain request that gets 503 too says so.
// (One that does not may have gone over a connection the browser opened
// ahead of need, which holds a session of its own.)
async function whyRefused() {
  try {
    const r = await fetch("/", { cache: "no-store" });
    return r.status === 503
      ? "The PMU is busy: every session is taken. Try again when one ends."
      : "The PMU refused the WebSocket before it opened: most likely every session was " +
        "taken (it answers HTTP 503 then). A page cannot see the status; DevTools → Network " +
        "shows it, and the PMU's log says why.";
  } catch (e) {
    return "The PMU cannot be reached: is it still running?";
  }
}

function send(command) {
  if (socket) return;
  $("log").replaceChildren();
  let messages = 0, bytes = 0, opened = false, refusal = null, lastText = "";
  $("messages").textContent = "0";
  $("bytes").textContent = "0";
  $("close").textContent = "—";
  const start = performance.now();
  const now = () => (performance.now() - start) / 1000;
  busy(true);
  setState("Connecting…", "busy");
  socket = new WebSocket("ws://" + location.host + "/");
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    opened = true;
    socket.send(command);
    setState("Sent " + command + "; waiting for messages…", "busy");
  };
  socket.onmessage = (event) => {
    const binary = event.data instanceof ArrayBuffer;
    const size = binary ? event.data.byteLength : new TextEncoder().encode(event.data).length;
    const text = binary ? decoder.decode(event.data) : event.data;
    messages += 1;
    bytes += size;
    lastText = text;
    $("messages").textContent = String(messages);
    $("bytes").textContent = bytes.toLocaleString("en");
    if (text.startsWith("ERROR:")) {
      refusal = text;
      line(now(), document.createTextNode(text), "error message");
    } else if (size > LONG) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "one " + (binary ? "binary" : "text") + " message of " +
        size.toLocaleString("en") + " bytes";
      const body = document.createElement("div");
      body.textContent = text;
      details.append(summary, body);
      const li = line(now(), details, "message long");
      li.dataset.size = String(size);
    } else {
      const li = line(now(), document.createTextNode(text), "message");
      li.dataset.kind = binary ? "binary" : "text";
    }
  };
  socket.onclose = async (event) => {
    socket = null;
    busy(false);
    const reason = event.reason ? " " + event.reason : "";
    $("close").textContent = event.code + reason;
    if (!opened) {
      const why = await whyRefused();
      line(now(), document.createTextNode(why), "error");
      setState(why, "error");
    } else if (refusal) {
      setState("The PMU refused the command: " + refusal + " (close " + event.code + reason + ")", "error");
    } else if (event.code === 1000) {
      const long = document.querySelector("#log li.long summary");
      if (long) {
        long.textContent += ", whole: it arrived as one message and the PMU closed normally (1000)";
      }
      setState("Done: " + messages + " message" + (messages === 1 ? "" : "s") + ", " +
        bytes.toLocaleString("en") + " bytes, then a normal close (1000).", "done");
    } else {
      setState("The connection was lost (close " + event.code + reason + ") after " + messages +
        " messages" + (lastText ? "" : ", before any") + ".", "error");
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("url").textContent = "ws://" + location.host + "/";
  $("send").addEventListener("submit", (event) => {
    event.preventDefault();
    send($("command").value);
  });
  for (const button of document.querySelectorAll("button[data-command]")) {
    button.addEventListener("click", () => {
      $("command").value = button.dataset.command;
      send(button.dataset.command);
    });
  }
});
