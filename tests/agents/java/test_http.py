"""W3C traceparent at HTTP boundaries, with real clients and servers: every request the program
sends with java.net.http.HttpClient or HttpURLConnection carries a `traceparent` header
naming the trace (a new span id each), unless it set one itself, and the trace records it as
an `http.client` event with the URL's secrets redacted; every request an HttpServlet serves
(jakarta.servlet in embedded Tomcat, javax.servlet in embedded Jetty) is an `http.server`
event with the traceparent it came with."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import MVN, NEWEST_JDK, TIMEOUT, by_type, decoded, orion, plain_env, requires_jdk

pytestmark = requires_jdk

FETCH = """\
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

public class Fetch {
    static String get(HttpClient client, HttpRequest request) throws Exception {
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        return response.statusCode() + " " + response.body();
    }

    static String getAsync(HttpClient client, HttpRequest request) {
        return client.sendAsync(request, HttpResponse.BodyHandlers.ofString())
                .thenApply(response -> response.statusCode() + " " + response.body()).join();
    }

    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            boolean missing = exchange.getRequestURI().getPath().equals("/missing");
            byte[] body = String.valueOf(exchange.getRequestHeaders().getFirst("traceparent"))
                    .getBytes(StandardCharsets.UTF_8);
            try {
                Thread.sleep(20); // the answer takes a while: the duration shows it
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            exchange.sendResponseHeaders(missing ? 404 : 200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            URI uri = URI.create(base + "/orders?token=abc123secret");
            HttpClient client = HttpClient.newHttpClient();
            System.out.println(get(client, HttpRequest.newBuilder(uri).build()));
            String own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            System.out.println(get(client, HttpRequest.newBuilder(uri).header("traceparent", own).build()));
            System.out.println(getAsync(client, HttpRequest.newBuilder(URI.create(base + "/missing"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build()));
        } finally {
            server.stop(0);
        }
        try { // nobody listens there now
            get(HttpClient.newHttpClient(), HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + server.getAddress().getPort() + "/gone")).build());
        } catch (java.io.IOException e) {
            System.out.println("refused " + e.getClass().getName());
        }
    }
}
"""


@pytest.mark.parametrize("jdk", [pytest.param(None, id="default"), pytest.param(NEWEST_JDK, id="newest", marks=(
    pytest.mark.skipif(NEWEST_JDK is None, reason="no JDK 24 or later in /usr/lib/jvm")))])
def test_httpclient_requests_carry_traceparent_and_are_recorded(jdk: Path | None, tmp_path: Path) -> None:
    """send and sendAsync: each request an `http.client` event with its status and duration
    (sendAsync's once its future completes); the JDK's HttpServer that answers them, in the
    same program, makes an `http.server` event of each. On the JDK on the PATH and on the
    newest one here (whose HttpClientImpl and HttpServer the agent rewrites too)."""
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Fetch.java").write_text(FETCH)
    env = plain_env() if jdk is None else plain_env(PATH=f"{jdk}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["javac", "-g", "-d", str(tmp_path), str(tmp_path / "Fetch.java")], check=True, env=env)
    plain = subprocess.run(["java", "-cp", str(tmp_path), "Fetch"], capture_output=True, text=True, env=env)
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert plain.stdout.splitlines() == ["200 null", f"200 {own}", "404 null", "refused java.net.ConnectException"]
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "dev", "--", "java", "-cp", str(tmp_path),
                 "Fetch", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    sent, kept, missing, refused = (line.split(" ", 1)[1] for line in done.stdout.splitlines())
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    assert re.fullmatch(rf"00-{records[0]['trace_id']}-[0-9a-f]{{16}}-01", sent)
    assert re.fullmatch(rf"00-{records[0]['trace_id']}-[0-9a-f]{{16}}-01", missing) and missing != sent
    assert kept == own  # the program's own header is left alone
    events = [e for e in by_type(records, "event") if e["kind"] == "http.client"]
    assert [(e["attrs"]["method"], e["attrs"]["status"], e["attrs"]["traceparent"]) for e in events[:3]] == [
        ("GET", 200, sent), ("GET", 200, own), ("POST", 404, missing)]
    assert all(e["attrs"]["duration_ns"] >= 20_000_000 for e in events[:3])  # the server's 20 ms pause
    assert refused == "java.net.ConnectException"  # the program's exception, and the event's error
    assert (events[3]["attrs"]["status"], events[3]["attrs"]["error"]) == (None, refused)
    assert "abc123secret" not in events[0]["attrs"]["url"] and "token=" in events[0]["attrs"]["url"]
    assert events[2]["attrs"]["url"].endswith("/missing")
    main_lane = events[0]["lane"]
    assert events[1]["lane"] == main_lane  # send: the sending thread's event
    assert events[2]["lane"] != main_lane  # sendAsync: the thread that completed its future
    # the same program's com.sun.net.httpserver served them: each request's parent is the
    # span its traceparent named
    served = [e["attrs"] for e in by_type(records, "event") if e["kind"] == "http.server"]
    assert [(e["method"], e["url"], e["status"], e["traceparent"]) for e in served] == [
        ("GET", "/orders?token=<redacted>", 200, sent), ("GET", "/orders?token=<redacted>", 200, own),
        ("POST", "/missing", 404, missing)]
    assert [e["parent"] for e in served] == [
        {"trace_id": tp.split("-")[1], "span_id": tp.split("-")[2]} for tp in (sent, own, missing)]
    assert all(e["duration_ns"] >= 20_000_000 for e in served)


CALL = """\
import com.sun.net.httpserver.HttpServer;
import java.io.FileNotFoundException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;

public class Call {
    static String fetch(URL url, String method, String traceparent) throws Exception {
        HttpURLConnection connection = (HttpURLConnection) url.openConnection();
        connection.setRequestMethod(method);
        if (traceparent != null) {
            connection.setRequestProperty("traceparent", traceparent);
        }
        if (method.equals("POST")) {
            connection.setDoOutput(true);
            try (OutputStream body = connection.getOutputStream()) {
                body.write("apples=3".getBytes(StandardCharsets.UTF_8));
            }
        }
        try (InputStream in = connection.getInputStream()) {
            return connection.getResponseCode() + " " + new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (FileNotFoundException e) {
            return connection.getResponseCode() + " missing";
        }
    }

    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            boolean missing = exchange.getRequestURI().getPath().equals("/missing");
            byte[] body = String.valueOf(exchange.getRequestHeaders().getFirst("traceparent"))
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(missing ? 404 : 200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            System.out.println(fetch(new URL(base + "/orders?token=abc123secret"), "GET", null));
            String own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            System.out.println(fetch(new URL(base + "/orders"), "POST", own));
            System.out.println(fetch(new URL(base + "/missing"), "GET", null));
        } finally {
            server.stop(0);
        }
    }
}
"""


def test_httpurlconnection_requests_carry_traceparent_and_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>\n")
    (tmp_path / "Call.java").write_text(CALL)
    subprocess.run(["javac", "-g", "-d", str(tmp_path), str(tmp_path / "Call.java")], check=True)
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    plain = subprocess.run(["java", "-cp", str(tmp_path), "Call"], capture_output=True, text=True,
                           env=plain_env())
    assert plain.stdout.splitlines() == ["200 null", f"200 {own}", "404 missing"]
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "safe", "--", "java", "-cp", str(tmp_path),
                 "Call", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first, second, third = done.stdout.splitlines()
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    sent = first.removeprefix("200 ")
    assert re.fullmatch(rf"00-{records[0]['trace_id']}-[0-9a-f]{{16}}-01", sent)
    assert second == f"200 {own}" and third == "404 missing"  # the program's own header is kept
    # one event per request, though the program asks for the answer twice
    events = [e["attrs"] for e in by_type(records, "event") if e["kind"] == "http.client"]
    assert [(e["method"], e["status"], e["traceparent"]) for e in events] == [
        ("GET", 200, sent), ("POST", 200, own), ("GET", 404, events[2]["traceparent"])]
    assert events[2]["traceparent"] not in (sent, own)  # a new span for each request
    assert "abc123secret" not in events[0]["url"] and events[0]["url"].endswith("/orders?token=<redacted>")
    assert all(e["duration_ns"] > 0 for e in events)


REMOTE_TEST = """\
package com.example.remote;

import static org.junit.Assert.assertEquals;

import com.sun.net.httpserver.HttpServer;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import org.junit.Test;

public class RemoteTest {
    @Test
    public void theServerSeesNoHeader() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = String.valueOf(exchange.getRequestHeaders().getFirst("traceparent"))
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            URL url = new URL("http://127.0.0.1:" + server.getAddress().getPort() + "/");
            HttpURLConnection connection = (HttpURLConnection) url.openConnection();
            assertEquals("null", new String(connection.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } finally {
            server.stop(0);
        }
    }
}
"""


def test_a_failing_tests_requests_carry_its_trace_id(tmp_path: Path) -> None:
    """A request sent while a test runs names the test's own trace (the one written when it
    fails), so that the service it called can be stitched to it."""
    root = tmp_path / "remote"
    (root / "src" / "test" / "java" / "com" / "example" / "remote").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parent / "junit4" / "pom.xml", root / "pom.xml")
    (root / "src" / "test" / "java" / "com" / "example" / "remote" / "RemoteTest.java").write_text(REMOTE_TEST)
    spool, summary = tmp_path / "spool", tmp_path / "summary.json"
    done = orion("test", "--spool", str(spool), "--json", "--output", str(summary), "--", "mvn", "-q", "-B", "test",
                 cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    [row] = json.loads(summary.read_text())["traces"]
    assert row["test"] == "com.example.remote.RemoteTest.theServerSeesNoHeader"
    trace = Path(row["path"])
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    sent = re.search(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", row["exception"]).group(0)  # what the server saw
    assert re.fullmatch(rf"00-{records[0]['trace_id']}-[0-9a-f]{{16}}-01", sent)
    [event] = [e["attrs"] for e in by_type(records, "event") if e["kind"] == "http.client"]
    assert (event["status"], event["traceparent"]) == (200, sent)


CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"  # Shop.CALLER


@pytest.mark.parametrize("project", ["servlet_jakarta", "servlet_javax"])
def test_servlet_requests_are_recorded_with_the_traceparent_they_came_with(project: str, tmp_path: Path) -> None:
    """Embedded Tomcat (jakarta.servlet) or Jetty (javax.servlet) serves a servlet that the
    same program calls over HttpURLConnection: both ends of each request are in the trace.
    A request that comes with another service's traceparent has that span as its parent,
    and the request its servlet sends meanwhile goes on in that trace (W3C propagation)."""
    root = tmp_path / project
    shutil.copytree(Path(__file__).resolve().parent / project, root)
    build = subprocess.run([MVN, "-q", "-B", "compile", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"],
                           cwd=root, capture_output=True, text=True, env=plain_env(), timeout=TIMEOUT)
    assert build.returncode == 0, build.stdout + build.stderr
    command = ["java", "-cp", f"{root / 'target' / 'classes'}:{(root / 'cp.txt').read_text().strip()}",
               "com.example.shop.Shop", str(tmp_path / "server")]
    plain = subprocess.run(command, capture_output=True, text=True, env=plain_env(), timeout=TIMEOUT)
    assert plain.stdout.splitlines() == ["200 pears 3 null", "404", "200 basket 200 pears 3 null"], plain.stderr
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "dev", "--", *command, cwd=root)
    assert done.returncode == 0, done.stderr
    answer, missing, basket = done.stdout.splitlines()
    assert missing == "404"
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    own_trace = records[0]["trace_id"]
    received = answer.removeprefix("200 pears 3 ")
    assert re.fullmatch(rf"00-{own_trace}-[0-9a-f]{{16}}-01", received)
    events = by_type(records, "event")
    served = [e["attrs"] for e in events if e["kind"] == "http.server"]
    sent = [e["attrs"] for e in events if e["kind"] == "http.client"]
    assert sorted((e["method"], e["url"], e["status"]) for e in served) == [
        ("GET", "/stock/basket", 200), ("GET", "/stock/pears", 200),
        ("GET", "/stock/pears?session=<redacted>", 200), ("GET", "/stock/unicorn", 404)]
    assert served[0]["traceparent"] == received == sent[0]["traceparent"]
    assert served[0]["parent"] == {"trace_id": own_trace, "span_id": received.split("-")[2]}
    assert [e["traceparent"] for e in served[:2]] == [e["traceparent"] for e in sent[:2]]
    assert [e["status"] for e in sent] == [200, 404, 200, 200]
    # the basket's request: another trace's span is its parent, and the request its
    # servlet sent carried that trace on, with a span id of its own
    [from_caller] = [e for e in served if e["url"] == "/stock/basket"]
    assert from_caller["traceparent"] == f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    assert from_caller["parent"] == {"trace_id": CALLER_TRACE, "span_id": CALLER_SPAN}
    relayed = basket.removeprefix("200 basket 200 pears 3 ")
    assert re.fullmatch(rf"00-{CALLER_TRACE}-(?!{CALLER_SPAN})[0-9a-f]{{16}}-01", relayed)
    [inner] = [e for e in sent if e["url"].endswith("/stock/pears")]
    assert inner["traceparent"] == relayed
    [inner_served] = [e for e in served if e["url"] == "/stock/pears"]
    assert inner_served["parent"] == {"trace_id": CALLER_TRACE, "span_id": relayed.split("-")[2]}
    served_lanes = {e["lane"] for e in events if e["kind"] == "http.server"}
    assert 0 not in served_lanes  # served on the container's threads, not main's
    assert all(e["duration_ns"] > 0 for e in served + sent)
    assert "s3cr3tvalue" not in json.dumps(records, default=str)
