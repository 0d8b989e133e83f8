#!/usr/bin/env python3
"""End-to-end checks of smoe-server over HTTP with the tiny test model (standard library only).

Usage: test_server.py SMOE_SERVER SMOE_CONVERT TINY_MODEL_DIR

Starts the server on a free port, waits for /health, then checks the OpenAI endpoints (shapes,
usage, streaming, greedy determinism alone and under concurrency, the reference greedy text),
errors (400, 401, 404, 413, 503 queue full, 504 timeout), the server's limits, a client leaving
mid-stream, /metrics, curl, and SIGTERM.
"""
import atexit
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

server_binary, convert_binary, tiny_dir = sys.argv[1:4]
failures = []
passes = 0


def check(name, condition, detail=""):
    global passes
    if condition:
        passes += 1
    else:
        failures.append(name)
        print(f"FAILED: {name} {detail}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One smoe-server process on a free port; its stderr goes to a log file."""

    def __init__(self, model, *extra):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(work, f"server-{self.port}.log"), "w+")
        self.process = subprocess.Popen([server_binary, "-m", model, "--port", str(self.port), *extra],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        atexit.register(lambda: self.process.poll() is None and self.process.kill())  # a failed check leaves none behind
        deadline = time.time() + 30
        while time.time() < deadline:
            status, body = request(self, "GET", "/health")
            if status == 200:
                check("/health says ok once loaded", body == {"status": "ok"}, body)
                return
            if status is not None:
                check("/health says loading before", status == 503 and body == {"status": "loading"}, (status, body))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        sys.exit(f"the server did not start:\n{self.log.read()}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def request(server, method, path, body=None, headers=None, raw=None):
    """(status, parsed JSON or text) of one request; (None, None) when the server cannot be reached."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(server.base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None, None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def stream_events(server, path, body, headers=None):
    """The parsed `data:` events of a streaming request, and whether it ended with [DONE]."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    assert response.status == 200, (response.status, response.read())
    assert response.getheader("Content-Type").startswith("text/event-stream")
    events, done = [], False
    for line in response.read().decode().split("\n"):
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
        else:
            events.append(json.loads(line[len("data: "):]))
    connection.close()
    return events, done


def raw_chat_request(server, body):
    """A chat request sent on a plain socket (which the caller may close mid-answer); the socket."""
    connection = socket.create_connection(("127.0.0.1", server.port))
    payload = json.dumps(body)
    connection.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n\r\n{payload}").encode())
    return connection


def follow_stream(server, body, on_event):
    """Sends a streaming chat request and calls on_event(event) for each `data:` event as it
    arrives (while the response is still open); returns whether the stream ended with [DONE]."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    done = False
    for raw in connection.getresponse():
        line = raw.decode().strip()
        if line == "data: [DONE]":
            done = True
        elif line.startswith("data: "):
            on_event(json.loads(line[6:]))
    return done


def wait_for_metric(server, name, done):
    """Polls /metrics until done(value of `name`) holds, up to 30 s (generous: under a loaded CI
    machine, with ctest -j beside compute-bound tests, steps slow down)."""
    deadline = time.time() + 30
    while not done(metric(server, name)) and time.time() < deadline:
        time.sleep(0.05)


def wait_for_active_slots(server, done):
    wait_for_metric(server, "smoe_active_slots", done)


def chat(content, **fields):
    return {"messages": [{"role": "user", "content": content}], "temperature": 0, **fields}


def answer_text(body):
    return body["choices"][0]["message"]["content"]


def metric(server, name):
    _, text = request(server, "GET", "/metrics")
    for line in text.split("\n"):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


work = tempfile.mkdtemp(prefix="smoe-server-test-")
atexit.register(shutil.rmtree, work, ignore_errors=True)
model = os.path.join(work, "tiny.smoe")
# f32 weights and KV cache: the greedy text then matches the reference implementation's.
subprocess.run([convert_binary, tiny_dir, "-o", model, "--type", "f32", "--quiet"], check=True)
reference = json.load(open(os.path.join(tiny_dir, "reference.json")))["prompts"][0]

start = time.time()
# One thread each: OpenMP threads that spin against other load on a small machine slow every run.
server = Server(model, "-t", "1", "-c", "4096", "--parallel", "4", "--kv", "f32", "--max-body", "65536",
                "--alias", "tiny")

# --- Shapes and usage.
status, body = request(server, "POST", "/v1/chat/completions", chat("Hello there", max_tokens=16))
check("chat completion answers 200", status == 200, (status, body))
check("chat completion shape", body.get("object") == "chat.completion" and body["id"].startswith("chatcmpl-")
      and body["model"] == "tiny" and body["choices"][0]["message"]["role"] == "assistant"
      and body["choices"][0]["finish_reason"] in ("stop", "length"), body)
usage = body["usage"]
check("usage counts tokens", usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 16
      and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"], usage)
check("max_tokens ends with finish_reason length", body["choices"][0]["finish_reason"] == "length"
      or usage["completion_tokens"] < 16, body)
whole = answer_text(body)

# --- Streaming: chunks then [DONE], the same text as the whole answer (greedy).
events, done = stream_events(server, "/v1/chat/completions",
                             chat("Hello there", max_tokens=16, stream=True, stream_options={"include_usage": True}))
streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e.get("choices"))
check("stream ends with data: [DONE]", done)
check("stream chunks are chat.completion.chunk", all(e["object"] == "chat.completion.chunk" for e in events))
check("first chunk names the role", events[0]["choices"][0]["delta"].get("role") == "assistant", events[0])
finishes = [e["choices"][0]["finish_reason"] for e in events if e.get("choices")]
check("only the last choice chunk has a finish_reason", finishes[-1] in ("stop", "length")
      and all(f is None for f in finishes[:-1]), finishes)
streamed_usage = events[-1].get("usage", {})
check("include_usage sends a usage chunk", events[-1]["choices"] == [] and all(
    streamed_usage.get(key) == usage[key] for key in ("prompt_tokens", "completion_tokens", "total_tokens")),
    events[-1])
check("streamed text equals the whole greedy answer", streamed == whole, (streamed, whole))

# --- The reference greedy text through /v1/completions (raw prompt, BOS added).
status, body = request(server, "POST", "/v1/completions",
                       {"prompt": reference["text"], "temperature": 0, "max_tokens": len(reference["greedy_ids"])})
check("/v1/completions answers text_completion", status == 200 and body["object"] == "text_completion", body)
check("/v1/completions prompt tokens match the reference ids", body["usage"]["prompt_tokens"] == len(reference["ids"]),
      body["usage"])
check("/v1/completions greedy text matches the reference implementation's",
      body["choices"][0]["text"].strip() == reference["greedy_text"].strip(),
      (body["choices"][0]["text"], reference["greedy_text"]))
events, done = stream_events(server, "/v1/completions", {"prompt": reference["text"], "temperature": 0,
                                                         "max_tokens": 8, "stream": True})
check("/v1/completions streams", done and all(e["object"] == "text_completion" for e in events), events)

# --- Stop strings: the text ends before the first stop string.
if len(whole) > 6:
    stop = whole[3:6]
    status, body = request(server, "POST", "/v1/chat/completions", chat("Hello there", max_tokens=16, stop=[stop]))
    check("a stop string ends the answer before it", status == 200 and answer_text(body) == whole[:whole.find(stop)]
          and body["choices"][0]["finish_reason"] == "stop", (stop, body))

# --- Concurrency: 4 greedy requests at once give what each gives alone.
prompts = [f"Question number {i}: what is {i} + {i}?" for i in range(4)]
alone = [answer_text(request(server, "POST", "/v1/chat/completions", chat(p, max_tokens=24))[1]) for p in prompts]
together = [None] * 4


def ask(i):
    together[i] = answer_text(request(server, "POST", "/v1/chat/completions", chat(prompts[i], max_tokens=24))[1])


threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check("4 concurrent greedy requests answer as each alone", together == alone, (together, alone))
# A chat's next turn starts with the previous one: the slot reuses its cache.
status, body = request(server, "POST", "/v1/chat/completions",
                       {"messages": [{"role": "user", "content": prompts[0]}, {"role": "assistant", "content": alone[0]},
                                     {"role": "user", "content": "And then?"}], "temperature": 0, "max_tokens": 4})
check("a follow-up turn reuses the cached prefix", status == 200
      and body["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, body)

# --- /v1/models.
status, body = request(server, "GET", "/v1/models")
check("/v1/models lists the model", status == 200 and body["object"] == "list" and body["data"][0]["id"] == "tiny",
      body)
status, body = request(server, "GET", "/v1/models/tiny")
check("/v1/models/tiny", status == 200 and body["id"] == "tiny", body)


# --- Errors in OpenAI's shape.
def expect_error(name, status_expected, response, code=None, param=None):
    status, body = response
    ok = status == status_expected and isinstance(body, dict) and "message" in body.get("error", {}) \
        and "type" in body["error"] and (code is None or body["error"]["code"] == code) \
        and (param is None or body["error"]["param"] == param)
    check(name, ok, (status, body))


expect_error("malformed JSON is 400", 400, request(server, "POST", "/v1/chat/completions", raw=b"{\"messages\": ["))
expect_error("messages not a list is 400", 400,
             request(server, "POST", "/v1/chat/completions", {"messages": "hi"}), param="messages")
expect_error("max_tokens a string is 400", 400,
             request(server, "POST", "/v1/chat/completions", chat("hi", max_tokens="5")), param="max_tokens")
expect_error("temperature out of range is 400", 400,
             request(server, "POST", "/v1/chat/completions", chat("hi", temperature=7)), param="temperature")
expect_error("max_tokens beyond the context is 400 context_length_exceeded", 400,
             request(server, "POST", "/v1/chat/completions", chat("hi", max_tokens=10 ** 9)),
             code="context_length_exceeded")
expect_error("a prompt longer than the context is 400 context_length_exceeded", 400,
             request(server, "POST", "/v1/completions", {"prompt": "word " * 5000}), code="context_length_exceeded")
expect_error("an unknown model is 404", 404,
             request(server, "POST", "/v1/chat/completions", chat("hi", model="gpt-4")), code="model_not_found")
expect_error("a body nested 30000 deep is 400", 400, request(server, "POST", "/v1/chat/completions",
                                                            raw=b'{"tools": ' + b"[" * 30000 + b"]" * 30000 + b"}"))
expect_error("content nested 30000 deep is 400", 400, request(server, "POST", "/v1/chat/completions", raw=(
    b'{"messages": [{"role": "user", "content": ' + b"[" * 30000 + b"]" * 30000 + b"}]}")))
expect_error("invalid UTF-8 is 400", 400, request(server, "POST", "/v1/chat/completions",
                                                  raw=b'{"messages": [{"role": "user", "content": "\xff"}]}'))
expect_error("a message whose content is a number is 400", 400, request(server, "POST", "/v1/chat/completions", {
    "messages": [{"role": "user", "content": 5}]}), param="messages")
expect_error("an unknown route is 404", 404, request(server, "GET", "/v1/nothing"))
garbage = socket.create_connection(("127.0.0.1", server.port))
garbage.settimeout(10)
garbage.sendall(b"NOT HTTP AT ALL\r\n\r\n")
reply = b""
try:
    while b"invalid_http_request" not in reply:  # the reply may come in pieces; the server then closes
        more = garbage.recv(4096)
        if not more:
            break
        reply += more
except OSError:  # a timeout: the check below fails with what arrived
    pass
garbage.close()
reply = reply.decode(errors="replace")
check("a request that is not HTTP is 400 in OpenAI's shape", reply.startswith("HTTP/1.1 400")
      and '"code":"invalid_http_request"' in reply, reply[:300])
expect_error("a body over --max-body is 413", 413,
             request(server, "POST", "/v1/chat/completions", chat("x" * 100000)))
status, body = request(server, "POST", "/v1/chat/completions", chat("hi", max_tokens=2))
check("the server answers after the errors", status == 200, (status, body))

# --- A client that leaves mid-stream frees its slot; the server goes on.
generated_before = metric(server, "smoe_generated_tokens_total")
connection = raw_chat_request(server, chat("Tell me a long story", max_tokens=4000, stream=True))
received = b""
# Two events (the role chunk, then a token): the job holds a slot now, so "free" below is not
# read before the request was admitted.
while received.count(b"data: ") < 2:
    more = connection.recv(4096)
    if not more:
        break
    received += more
connection.close()
check("the stream had started", b"200 OK" in received, received[:200])
wait_for_active_slots(server, lambda active: active == 0)
check("the slot is free after the client left", metric(server, "smoe_active_slots") == 0,
      metric(server, "smoe_active_slots"))
left_after = metric(server, "smoe_generated_tokens_total") - generated_before
check("generation stopped when the client left", left_after < 4000, left_after)
status, body = request(server, "POST", "/v1/chat/completions", chat("Still there?", max_tokens=4))
check("the server answers after a client left mid-stream", status == 200, (status, body))

# --- Tools offered: the answer is content or tool calls (what the model writes), well formed either way.
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
status, body = request(server, "POST", "/v1/chat/completions", chat("Weather in Paris?", max_tokens=8, tools=tools))
check("a request with tools is answered", status == 200, (status, body))
choice = body["choices"][0] if status == 200 else {}
check("an answer with tools is content or tool calls",
      (choice.get("finish_reason") in ("stop", "length") and isinstance(choice["message"]["content"], str)) or
      (choice.get("finish_reason") == "tool_calls" and choice["message"]["tool_calls"]), choice)
events, _ = stream_events(server, "/v1/chat/completions", chat("Weather in Paris?", max_tokens=8, stream=True, tools=tools))
finishes = [e["choices"][0]["finish_reason"] for e in events if isinstance(e, dict) and e.get("choices")]
check("a stream with tools ends with one finish_reason", finishes and finishes[-1] in ("stop", "length", "tool_calls")
      and all(f is None for f in finishes[:-1]), finishes)

# --- A client that gives up on a non-streaming answer frees its slot too.
generated_before = metric(server, "smoe_generated_tokens_total")
connection = raw_chat_request(server, chat("Tell me a long story", max_tokens=4000))
wait_for_active_slots(server, lambda active: active != 0)
check("the non-streaming request was generating", metric(server, "smoe_active_slots") == 1)
connection.close()
wait_for_active_slots(server, lambda active: active == 0)
check("the slot is free after a non-streaming client left", metric(server, "smoe_active_slots") == 0,
      metric(server, "smoe_active_slots"))
left_after = metric(server, "smoe_generated_tokens_total") - generated_before
check("generation stopped when the non-streaming client left", left_after < 4000, left_after)
status, body = request(server, "POST", "/v1/chat/completions", chat("Still there?", max_tokens=4))
check("the server answers after a non-streaming client left", status == 200, (status, body))

# --- curl: a streaming request as a shell user would send it.
curl = subprocess.run(["curl", "-sS", "-N", "--max-time", "20", server.base + "/v1/chat/completions",
                       "-H", "Content-Type: application/json",
                       "-d", json.dumps(chat("Hello there", max_tokens=16, stream=True))],
                      capture_output=True, text=True)
lines = [line for line in curl.stdout.split("\n") if line.startswith("data: ")]
curl_text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in lines[:-1])
check("curl streams the same greedy answer", curl.returncode == 0 and lines[-1] == "data: [DONE]"
      and curl_text == whole, (curl.returncode, curl.stderr, curl_text))

# --- /metrics in Prometheus' text format.
_, text = request(server, "GET", "/metrics")
for name in ('smoe_requests_total{endpoint="/v1/chat/completions",status="200"}',
             'smoe_requests_total{endpoint="/v1/chat/completions",status="400"}',
             'smoe_requests_total{endpoint="other",status="404"}',
             "smoe_prompt_tokens_total", "smoe_generated_tokens_total", "smoe_generated_tokens_per_second",
             "smoe_queue_depth", "smoe_active_slots", 'smoe_expert_selections_total{layer="0",expert="0"}'):
    check(f"/metrics has {name}", name in text)
check("/metrics has no expert cache counters without the cache", "smoe_expert_cache" not in text)
check("/metrics counts generated tokens", metric(server, "smoe_generated_tokens_total") > 0)

# --- --api-key: 401 without the key or with a wrong one; /health stays open. --max-queue 0: a
# request is served when a slot is free (none waits); --max-tokens caps what a request may ask.
# Its experts are read on demand (--expert-cache): /metrics then shows the cache's counters.
keyed = Server(model, "-t", "1", "-c", "128", "--api-key", "s3cret", "--max-queue", "0", "--max-tokens", "8",
               "--expert-cache", "--quiet")
expect_error("a missing key is 401", 401, request(keyed, "GET", "/v1/models"), code="invalid_api_key")
expect_error("a wrong key is 401", 401, request(keyed, "POST", "/v1/chat/completions", chat("hi", max_tokens=2),
                                                headers={"Authorization": "Bearer wrong"}), code="invalid_api_key")
status, body = request(keyed, "POST", "/v1/chat/completions", chat("hi", max_tokens=2),
                       headers={"Authorization": "Bearer s3cret"})
check("the right key is served", status == 200, (status, body))
check("/health needs no key", request(keyed, "GET", "/health")[0] == 200)
key = {"Authorization": "Bearer s3cret"}
expect_error("max_tokens over --max-tokens is 400", 400, request(keyed, "POST", "/v1/chat/completions",
                                                                 chat("hi", max_tokens=9), headers=key),
             code="max_tokens_exceeded", param="max_tokens")
status, body = request(keyed, "POST", "/v1/chat/completions", chat("hi", ignore_eos=True), headers=key)
check("a chat without max_tokens stops at --max-tokens", status == 200 and body["usage"]["completion_tokens"] == 8
      and body["choices"][0]["finish_reason"] == "length", (status, body))
expect_error("an unknown role is 400", 400, request(keyed, "POST", "/v1/chat/completions", {
    "messages": [{"role": "bogus", "content": "hi"}]}, headers=key), param="messages")
status, body = request(keyed, "POST", "/v1/chat/completions", {
    "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    "max_tokens": 2}, headers=key)
check("a developer message is served (as the system message)", status == 200, (status, body))
check("/metrics needs the key with --api-key", request(keyed, "GET", "/metrics")[0] == 401)
_, scrape = request(keyed, "GET", "/metrics", headers=key)
cache_values = {}
for line in scrape.split("\n"):
    if line.startswith("smoe_expert_cache_"):
        cache_values[line.split()[0]] = float(line.split()[1])
check("/metrics shows the expert cache's lookups and hits", cache_values.get("smoe_expert_cache_lookups_total", 0) > 0
      and 0 <= cache_values.get("smoe_expert_cache_hits_total", -1) <= cache_values["smoe_expert_cache_lookups_total"]
      and 0 <= cache_values.get("smoe_expert_cache_hit_ratio", -1) <= 1, cache_values)
check("SIGTERM on an idle server exits 0", keyed.stop() == 0)

# --- Limits: one slot and one waiting request; a third request gets 503 queue_full. The slot
# is held by a long stream until its client leaves; the waiting request then runs.
limited = Server(model, "-t", "1", "-c", "4096", "--parallel", "1", "--max-queue", "1", "--quiet")
holder = raw_chat_request(limited, chat("A very long story", max_tokens=4000, stream=True, ignore_eos=True))
wait_for_active_slots(limited, lambda active: active == 1)
queued = {}


def wait_in_queue():
    queued["response"] = request(limited, "POST", "/v1/chat/completions", chat("my turn", max_tokens=2))


waiter = threading.Thread(target=wait_in_queue)
waiter.start()
wait_for_metric(limited, "smoe_queue_depth", lambda depth: depth == 1)
check("the second request waits in the queue", metric(limited, "smoe_queue_depth") == 1)
expect_error("a request beyond --max-queue is 503 queue_full", 503,
             request(limited, "POST", "/v1/chat/completions", chat("one more", max_tokens=2)), code="queue_full")
holder.close()  # the slot frees at the next step, and the waiting request takes it
waiter.join(timeout=60)
check("the waiting request is served once the slot frees", queued.get("response", (None,))[0] == 200, queued)
check("SIGTERM after the queue checks exits 0", limited.stop() == 0)

# --- --timeout: a request past it ends with 504 timeout (a stream: an error event, then
# [DONE]). A stream of 4000 tokens takes the tiny model 2-5 s on the 2-core CI machine; on a
# machine fast enough to finish it within the second, finishing normally is the right answer.
timed = Server(model, "-t", "1", "-c", "4096", "--timeout", "1", "--quiet")
events = []
sent = time.time()
ended = follow_stream(timed, chat("A very long story", max_tokens=4000, stream=True, ignore_eos=True), events.append)
took = time.time() - sent
last = events[-1] if events else {}
timed_out = last.get("error", {}).get("code") == "timeout"
finished = bool(last.get("choices")) and last["choices"][0].get("finish_reason") == "length"
check("a stream past --timeout ends with a timeout event and [DONE]",
      ended and ((timed_out and took < 4) or (finished and took < 1)), (took, last))
check("SIGTERM after the timeout exits 0", timed.stop() == 0)

# --- The load generator (bench/server_load.py): --paired runs one stream before and after K and
# divides by their mean; every request generates exactly max_tokens.
load_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "server_load.py")
load = subprocess.run([sys.executable, load_script, "--url", server.base, "--concurrency", "2", "--paired",
                       "--requests", "1", "--max-tokens", "4", "--warmup", "0", "--json"],
                      capture_output=True, text=True, timeout=120)
rows = [json.loads(line) for line in load.stdout.splitlines() if line.startswith("{")]
check("server_load.py --paired: K = 1, K = 2, K = 1", load.returncode == 0
      and [r["concurrency"] for r in rows] == [1, 2, 1], (load.returncode, load.stdout, load.stderr[-2000:]))
if len(rows) == 3 and rows[0]["tokens_per_s"] + rows[2]["tokens_per_s"] > 0:
    pair = rows[1]
    single = (rows[0]["tokens_per_s"] + rows[2]["tokens_per_s"]) / 2
    check("server_load.py counts every token and no error",
          [(r["generated_tokens"], r["errors"]) for r in rows] == [(4, 0), (8, 0), (4, 0)], rows)
    check("server_load.py's ratio is K's tokens/s over the mean of the single streams beside it",
          abs(pair["ratio_to_single"] - pair["tokens_per_s"] / single) < 1e-3
          and pair["single_tokens_per_s"] == [rows[0]["tokens_per_s"], rows[2]["tokens_per_s"]], rows)
    # The tiny model streams so fast that chunks can arrive together (no gap to time): then None.
    steps = [rows[0]["ms_per_token_p50"], rows[2]["ms_per_token_p50"], pair["ms_per_token_p50"]]
    if all(math.isfinite(v) and v > 0 for v in steps):
        expected = 2 * (steps[0] + steps[1]) / 2 / steps[2]
        check("server_load.py's step ratio is K times the single streams' time per token over K's",
              abs(pair["step_ratio_to_single"] - expected) < 1e-3 * max(1.0, expected), rows)
    else:
        check("server_load.py gives no step ratio without timed tokens", pair["step_ratio_to_single"] is None, rows)
# The table (the default output) with the ratios, including a K whose tokens could not be timed.
table = subprocess.run([sys.executable, load_script, "--url", server.base, "--concurrency", "2", "--paired",
                        "--requests", "1", "--max-tokens", "2", "--warmup", "0"],
                       capture_output=True, text=True, timeout=120)
lines = table.stdout.splitlines()
check("server_load.py --paired prints a table: header with the ratios, K = 1, 2, 1",
      table.returncode == 0 and len(lines) == 4 and lines[0].split()[-3:] == ["ratio", "step", "ratio"]
      and [line.split()[0] for line in lines[1:]] == ["1", "2", "1"],
      (table.returncode, table.stdout, table.stderr[-2000:]))

# --- SIGTERM: a stream in flight finishes, new requests are refused, the process exits 0.
result = {"done": False, "finish": None}
streaming = threading.Event()


def long_stream():
    def on_event(event):
        if event["choices"] and event["choices"][0]["delta"].get("content"):
            streaming.set()
        if event["choices"] and event["choices"][0]["finish_reason"]:
            result["finish"] = event["choices"][0]["finish_reason"]

    result["done"] = follow_stream(server, chat("One more story", max_tokens=300, stream=True), on_event)
    streaming.set()


streamer = threading.Thread(target=long_stream)
streamer.start()
streaming.wait(timeout=30)
server.process.send_signal(signal.SIGTERM)
time.sleep(0.1)
status, body = request(server, "POST", "/v1/chat/completions", chat("too late", max_tokens=2))
check("a request after SIGTERM is refused", status in (503, None), (status, body))
streamer.join(timeout=60)
code = server.process.wait(timeout=60)
check("SIGTERM exits 0", code == 0, code)
check("a stream in flight at SIGTERM finishes normally", result["done"] and result["finish"] in ("length", "stop"),
      result)

# --- SIGTERM with a stream that outlasts --shutdown-timeout: cancelled, it still ends with an
# error event and [DONE]; the process exits 0.
short = Server(model, "-t", "1", "-c", "4096", "--shutdown-timeout", "0.3", "--quiet")
cut = {"events": [], "done": False}
cut_started = threading.Event()


def cut_stream():
    def on_event(event):
        cut["events"].append(event)
        cut_started.set()

    cut["done"] = follow_stream(short, chat("A very long story", max_tokens=4000, stream=True, ignore_eos=True),
                                on_event)
    cut_started.set()


cutter = threading.Thread(target=cut_stream)
cutter.start()
cut_started.wait(timeout=30)
short.process.send_signal(signal.SIGTERM)
cutter.join(timeout=60)
check("SIGTERM past --shutdown-timeout exits 0", short.process.wait(timeout=60) == 0)
check("a stream cancelled at shutdown ends with an error event and [DONE]",
      cut["done"] and cut["events"] and "error" in cut["events"][-1]
      and cut["events"][-1]["error"].get("code") == "shutting_down", (cut["done"], cut["events"][-1:]))

server.log.seek(0)
if failures:
    print(server.log.read()[-4000:])
print(f"server tests: {passes} passed, {len(failures)} failed in {time.time() - start:.1f} s")
sys.exit(1 if failures else 0)
