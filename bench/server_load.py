#!/usr/bin/env python3
"""Load generator for smoe-server: K concurrent streaming clients, each sending requests one
after another; reports aggregate generated tokens/s and the median / p99 time per token.

  bench/server_load.py --url http://127.0.0.1:8080 --concurrency 1,2,4,8 --requests 2 --max-tokens 32

Time per token is the gap between consecutive streamed chunks of one response (the first
token's wait, which includes the prompt and any queueing, is reported separately as TTFT).
Standard library only.

Where the machine's memory bandwidth drifts while the runs go on (shared or virtual machines),
`--paired` runs one stream (K = 1) before the first K and after every K, and reports each K's
ratio to the mean of the two single-stream runs beside it, so that each ratio compares runs
minutes rather than the whole benchmark apart; the step ratio compares the time per token p50
(K tokens per step against one), without the prompts and first-token waits:

  bench/server_load.py --url http://127.0.0.1:8080 --concurrency 2,4,8 --paired --requests 2 --max-tokens 128
"""
import argparse
import http.client
import json
import math
import statistics
import threading
import time
import urllib.parse


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def one_request(url, body, api_key):
    """(completion tokens, [gaps between chunks in s], time to first token in s)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    sent = time.perf_counter()
    connection.request("POST", "/v1/completions", json.dumps(body), headers)
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
    arrivals, tokens = [], 0
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            tokens = event["usage"]["completion_tokens"]
        elif event["choices"] and event["choices"][0]["text"]:
            arrivals.append(time.perf_counter())
    connection.close()
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    return tokens, gaps, (arrivals[0] - sent) if arrivals else float("nan")


def run(url, concurrency, requests, body, api_key):
    results, errors = [], []
    lock = threading.Lock()

    def client(index):
        for r in range(requests):
            try:
                # A distinct prompt per client and round: no client reuses another's cached prefix.
                result = one_request(url, {**body, "prompt": f"[{index}.{r}] {body['prompt']}"}, api_key)
            except Exception as error:  # reported, not fatal: the other clients go on
                with lock:
                    errors.append(str(error))
                continue
            with lock:
                results.append(result)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    tokens = sum(r[0] for r in results)
    gaps = [g for r in results for g in r[1]]
    ttft = [r[2] for r in results]
    return {"concurrency": concurrency, "requests": len(results), "errors": len(errors),
            "generated_tokens": tokens, "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens / wall, 2) if wall > 0 else 0,
            "ms_per_token_p50": round(1000 * percentile(gaps, 50), 2),
            "ms_per_token_p99": round(1000 * percentile(gaps, 99), 2),
            "ttft_ms_p50": round(1000 * statistics.median(ttft), 1) if ttft else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--concurrency", default="1,2,4,8", help="comma-separated K values, run in order")
    parser.add_argument("--requests", type=int, default=2, help="requests per client, one after another")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--prompt", default="Write a short story about a lighthouse keeper.")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--warmup", type=int, default=1, help="requests sent first and not counted")
    parser.add_argument("--json", action="store_true", help="one JSON object per K instead of a table")
    parser.add_argument("--paired", action="store_true",
                        help="run K = 1 before and after every other K and report the ratio to their mean "
                             "(a 1 in --concurrency adds nothing)")
    args = parser.parse_args()
    # Greedy, past end tokens (llama.cpp's ignore_eos): every request generates exactly max_tokens.
    body = {"prompt": args.prompt, "max_tokens": args.max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True}
    for _ in range(args.warmup):
        one_request(args.url, body, args.api_key)
    if not args.json:
        ratio_header = f" {'ratio':>6} {'step ratio':>10}" if args.paired else ""
        print(f"{'K':>3} {'requests':>8} {'tokens':>7} {'wall s':>7} {'tok/s':>8} {'ms/tok p50':>10} "
              f"{'ms/tok p99':>10} {'TTFT p50 ms':>11} {'errors':>6}{ratio_header}")

    def report(row):
        if args.json:
            print(json.dumps(row), flush=True)
            return
        ratios = ""
        if args.paired and row["concurrency"] != 1:
            shown = ["-" if row[key] is None else f"{row[key]:.2f}"
                     for key in ("ratio_to_single", "step_ratio_to_single")]
            ratios = f" {shown[0]:>6} {shown[1]:>10}"
        print(f"{row['concurrency']:>3} {row['requests']:>8} {row['generated_tokens']:>7} {row['wall_s']:>7} "
              f"{row['tokens_per_s']:>8} {row['ms_per_token_p50']:>10} {row['ms_per_token_p99']:>10} "
              f"{row['ttft_ms_p50']:>11} {row['errors']:>6}{ratios}", flush=True)

    levels = [int(v) for v in args.concurrency.split(",")]
    if not args.paired:
        for k in levels:
            report(run(args.url, k, args.requests, body, args.api_key))
        return
    before = run(args.url, 1, args.requests, body, args.api_key)
    report(before)
    for k in (k for k in levels if k != 1):
        row = run(args.url, k, args.requests, body, args.api_key)
        after = run(args.url, 1, args.requests, body, args.api_key)
        single = (before["tokens_per_s"] + after["tokens_per_s"]) / 2
        # None where the single streams generated nothing (every request failed).
        row["ratio_to_single"] = round(row["tokens_per_s"] / single, 3) if single > 0 else None
        row["single_tokens_per_s"] = [before["tokens_per_s"], after["tokens_per_s"]]
        # The same ratio between decoding steps alone (K tokens per step time p50 against one
        # stream's), without the prompts and first-token waits that the aggregate includes.
        # None where a run streamed too fast or too few tokens to time them.
        steps = [before["ms_per_token_p50"], after["ms_per_token_p50"], row["ms_per_token_p50"]]
        timed = all(math.isfinite(v) and v > 0 for v in steps)
        row["step_ratio_to_single"] = round(k * (steps[0] + steps[1]) / 2 / steps[2], 3) if timed else None
        report(row)
        report(after)
        before = after


if __name__ == "__main__":
    main()
