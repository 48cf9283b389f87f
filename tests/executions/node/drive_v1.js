// Drives our /v1/exec endpoints with the real elasticio-rest-node client.
// Usage: ELASTICIO_API_URI=http://127.0.0.1:PORT node drive_v1.js USER PASS BODY_JSON
// Prints one JSON line: {"scheduled": <schedule answer>, "polls": n, "result": <body>}.
const ElasticIO = require('elasticio-rest-node');

async function main() {
  const [user, password, body] = process.argv.slice(2);
  const client = new ElasticIO(user, password);
  // elasticio-rest-node 2.0.0 builds its resources with `new value(this)` inside a
  // plain function call, so every resource's `client` is globalThis, not the
  // client (its schedule() then fails on `api.basePath`). Rebind the one we use.
  client.exec.client = client;

  const scheduled = await client.exec.schedule(JSON.parse(body));
  const id = scheduled.location.split('/').pop();
  for (let polls = 1; polls <= 100; polls++) {
    const answer = await client.exec.pollResult(id);
    if (answer.ready) {
      console.log(JSON.stringify({ scheduled, polls, result: answer.result }));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('never ready');
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
