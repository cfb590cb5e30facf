"""W3C traceparent out of java.net.http.HttpClient: every request the program sends carries
a `traceparent` header naming the trace (a new span id each), unless it set one itself, and
the trace records it as an `http.request` event with the URL's secrets redacted."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .conftest import by_type, decoded, orion, plain_env, requires_jdk

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
        return client.send(request, HttpResponse.BodyHandlers.ofString()).body();
    }

    public static void main(String[] args) throws Exception {
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
            URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/orders?token=abc123secret");
            HttpClient client = HttpClient.newHttpClient();
            System.out.println(get(client, HttpRequest.newBuilder(uri).build()));
            String own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            System.out.println(get(client, HttpRequest.newBuilder(uri).header("traceparent", own).build()));
        } finally {
            server.stop(0);
        }
    }
}
"""


def test_httpclient_requests_carry_traceparent_and_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Fetch.java").write_text(FETCH)
    subprocess.run(["javac", "-g", "-d", str(tmp_path), str(tmp_path / "Fetch.java")], check=True)
    plain = subprocess.run(["java", "-cp", str(tmp_path), "Fetch"], capture_output=True, text=True,
                           env=plain_env())
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert plain.stdout.splitlines() == ["null", own]
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "dev", "--", "java", "-cp", str(tmp_path),
                 "Fetch", cwd=tmp_path)
    assert done.returncode == 0
    sent, kept = done.stdout.splitlines()
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    assert re.fullmatch(rf"00-{records[0]['trace_id']}-[0-9a-f]{{16}}-01", sent)
    assert kept == own  # the program's own header is left alone
    [event] = by_type(records, "event")
    assert event["kind"] == "http.request"
    assert event["attrs"]["traceparent"] == sent and event["attrs"]["method"] == "GET"
    assert "abc123secret" not in event["attrs"]["url"] and "token=" in event["attrs"]["url"]
