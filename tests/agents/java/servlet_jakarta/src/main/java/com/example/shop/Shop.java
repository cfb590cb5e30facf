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

/** A shop's stock, served by embedded Tomcat; main asks it twice over HttpURLConnection. */
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
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(args[0]);
        tomcat.setPort(0);
        Context context = tomcat.addContext("", null);
        Tomcat.addServlet(context, "stock", new Shop());
        context.addServletMappingDecoded("/stock/*", "stock");
        tomcat.start();
        try {
            String base = "http://127.0.0.1:" + tomcat.getConnector().getLocalPort();
            System.out.println(ask(new URL(base + "/stock/pears?session=s3cr3tvalue")));
            System.out.println(ask(new URL(base + "/stock/unicorn")).split(" ")[0]);
        } finally {
            tomcat.stop();
            tomcat.destroy();
        }
    }
}
