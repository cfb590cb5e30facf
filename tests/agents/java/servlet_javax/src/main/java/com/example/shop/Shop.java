package com.example.shop;

import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.ee8.servlet.ServletContextHandler;
import org.eclipse.jetty.ee8.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** A shop's stock, served by embedded Jetty (javax.servlet); main asks it twice over HttpURLConnection. */
public class Shop extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String item = request.getPathInfo().substring(1);
        if (item.equals("unicorn")) {
            response.sendError(404, "no " + item);
            return;
        }
        response.setContentType("text/plain");
        // what the caller sent, so that main can print it
        response.getWriter().print(item + " 3 " + request.getHeader("traceparent"));
    }

    static String ask(URL url) throws IOException {
        HttpURLConnection connection = (HttpURLConnection) url.openConnection();
        int status = connection.getResponseCode();
        InputStream body = status < 400 ? connection.getInputStream() : connection.getErrorStream();
        try (body) {
            return status + " " + new String(body.readAllBytes(), StandardCharsets.UTF_8).split("\n")[0];
        }
    }

    public static void main(String[] args) throws Exception {
        Server server = new Server(0);
        ServletContextHandler context = new ServletContextHandler();
        context.addServlet(new ServletHolder(new Shop()), "/stock/*");
        server.setHandler(context);
        server.start();
        try {
            String base = "http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort();
            System.out.println(ask(new URL(base + "/stock/pears?session=s3cr3tvalue")));
            System.out.println(ask(new URL(base + "/stock/unicorn")).split(" ")[0]);
        } finally {
            server.stop();
        }
    }
}
