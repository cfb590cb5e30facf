package com.example.ledger;

import java.util.LinkedHashMap;
import java.util.Map;

/** Balances by account. */
public class Ledger {
    private final Map<String, Integer> balances = new LinkedHashMap<>();

    public void deposit(String account, int amount) {
        balances.merge(account, amount, Integer::sum);
    }

    public int balance(String account) {
        return balances.getOrDefault(account, 0);
    }

    /** Moves `amount` between accounts; the payer must have it. */
    public void transfer(String from, String to, int amount) {
        withdraw(from, amount);
        deposit(to, amount);
    }

    private void withdraw(String account, int amount) {
        int left = balance(account) - amount;
        if (left < 0) {
            throw new IllegalStateException("overdrawn " + account + " by " + -left);
        }
        balances.put(account, left);
    }
}
