// ES module: an async chain that rejects several awaits deep.
const rows = { 1: { name: 'ada' } };

async function query(table, key) {
  await new Promise((resolve) => setTimeout(resolve, 1));
  if (key < 0) throw new RangeError(`no ${table} row ${key}`);
  return rows[key];
}

async function fetchRow(key) { const row = await query('users', key); return row; }

export async function loadUser(id) { return await fetchRow(id); }
