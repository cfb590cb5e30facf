package com.example.shop;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import org.apache.catalina.Context;
import org.apache.catalina.startup.Tomcat;

/** A shop's stock, served by embedded Tomcat; main asks it three times over HttpURLConnection. */
public class Shop extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String item = request.getPathInfo().substring(1);
        if (item.equals("basket")) { // the basket's stock is asked of the shop itself
            URL pears = new URL("http://127.0.0.1:" + request.getLocalPort() + "/stock/pears");
            response.getWriter().print("basket " + ask(pears, null));
            return;
        }
        if (item.equals("unicorn")) {
            response.sendError(404, "no " + item);
            return;
        }
        response.setContentType("text/plain");
        // what the caller sent, so that main can print it
        response.getWriter().print(item + " 3 " + request.getHeader("traceparent"));
    }

    static String ask(URL url, String traceparent) throws IOException {
        HttpURLConnection connection = (HttpURLConnection) url.openConnection();
        if (traceparent != null) {
            connection.setRequestProperty("traceparent", traceparent);
        }
        int status = connection.getResponseCode();
        InputStream body = status < 400 ? connection.getInputStream() : connection.getErrorStream();
        try (body) {
            return status + " " + new String(body.readAllBytes(), StandardCharsets.UTF_8).split("\n")[0];
        }
    }

    static final String CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    public static void main(String[] args) throws Exception {
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(args[0]);
        tomcat.setPort(0);
        Context context = tomcat.addContext("", null);
        Tomcat.addServlet(context, "stock", new Shop());
        context.addServletMappingDecoded("/stock/*", "stock");
        tomcat.start();
        try {
            String base = "http://127.0.0.1:" + tomcat.getConnector().getLocalPort();
            System.out.println(ask(new URL(base + "/stock/pears?session=s3cr3tvalue"), null));
            System.out.println(ask(new URL(base + "/stock/unicorn"), null).split(" ")[0]);
            // as another service would call it, in a trace of its own
            System.out.println(ask(new URL(base + "/stock/basket"), CALLER));
        } finally {
            tomcat.stop();
            tomcat.destroy();
        }
    }
}
