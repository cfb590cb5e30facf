package com.example.inventory;

import java.util.List;

/** Places orders against an inventory. */
public class Orders {
    private final Inventory inventory;

    public Orders(Inventory inventory) {
        this.inventory = inventory;
    }

    public int place(String customer, List<String> items) {
        int lines = 0;
        for (String item : items) {
            reserve(item, 2);
            lines++;
        }
        return lines;
    }

    private void reserve(String item, int quantity) {
        inventory.remove(item, quantity);
    }

    /** Restocks each item on a thread of its own, named after it. */
    public void restock(List<String> items, int quantity) throws InterruptedException {
        Thread[] workers = new Thread[items.size()];
        for (int i = 0; i < workers.length; i++) {
            String item = items.get(i);
            workers[i] = new Thread(() -> inventory.add(item, quantity), "restock-" + item);
            workers[i].start();
        }
        for (Thread worker : workers) {
            worker.join();
        }
    }

    public static String login(String user, String password) {
        return user.isEmpty() ? "nobody" : user + " signed in";
    }
}
