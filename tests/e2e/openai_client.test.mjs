// End-to-end: `tether serve` driven by the official `openai` npm client.
// Usage: node openai_client.test.mjs /path/to/tether [model]
// Starts the server on port 0, runs every check, stops it with SIGTERM and
// expects exit code 0. Any failed check exits non-zero with its reason.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tether = process.argv[2];
const model = process.argv[3] ?? 'demo';
if (!tether) {
  console.error('usage: node openai_client.test.mjs TETHER_BINARY [MODEL]');
  process.exit(2);
}
let OpenAI;
let toFile;
try {
  ({ default: OpenAI, toFile } = await import('openai'));
} catch {
  // `make test` installs it (scripts/install-deps.sh: npm ci in tests/e2e).
  console.log('skipped: the openai npm package is not installed in tests/e2e (run npm ci there)');
  process.exit(77);
}

// The async job store lives in a directory of this run's own.
const storeDir = mkdtempSync(join(tmpdir(), 'tether-e2e-'));

function startServer() {
  const child = spawn(tether, ['serve', '--model', model, '--port', '0', '--api-key', 'sk-e2e',
                               '--store', `sqlite:${join(storeDir, 'jobs.db')}`],
                      { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start in 60 s')), 60000);
    child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    child.stdout.on('data', (data) => {
      out += data.toString();
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, url: m[1] });
      }
    });
  });
}

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
const search = {
  type: 'function',
  function: {
    name: 'search',
    parameters: {
      type: 'object',
      properties: { query: { type: 'string' }, limit: { type: 'integer' } },
      required: ['query'],
      additionalProperties: false,
    },
  },
};

function checkWeatherArgs(text) {
  const args = JSON.parse(text);
  assert.equal(typeof args.city, 'string');
  assert.ok(['c', 'f'].includes(args.unit), `unit ${args.unit}`);
  assert.deepEqual(Object.keys(args).sort(), ['city', 'unit']);
}

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

check('chat, not streaming', async (client) => {
  const r = await client.chat.completions.create({
    model, max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'Hello there!' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 8);
  assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, 'number');
});

check('chat, streaming with usage', async (client) => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 12, temperature: 0.7, seed: 3, stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Count to five.' }],
  });
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.ok(finish, 'no finish_reason');
  assert.ok(usage, 'no usage chunk');
  assert.ok(usage.completion_tokens > 0);
  assert.equal(typeof usage.prompt_tokens_details.cached_tokens, 'number');
  // The same seed gives the same text, streamed or not.
  const again = await client.chat.completions.create({
    model, max_tokens: 12, temperature: 0.7, seed: 3,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Count to five.' }],
  });
  assert.equal(again.choices[0].message.content, text);
});

check('tool call, required', async (client) => {
  const r = await client.chat.completions.create({
    model, max_tokens: 200, temperature: 1, tools: [weather, search], tool_choice: 'required',
    parallel_tool_calls: false,
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.ok(call.id.length > 0);
  assert.ok(['get_weather', 'search'].includes(call.function.name));
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === 'get_weather') checkWeatherArgs(call.function.arguments);
  else assert.equal(typeof args.query, 'string');
});

check('tool call, named, streamed', async (client) => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 200, temperature: 1, seed: 11, stream: true, tools: [weather, search],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    messages: [{ role: 'user', content: 'Weather in Oslo, in celsius?' }],
  });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const d of c.delta?.tool_calls ?? []) {
        calls[d.index] ??= { id: '', name: '', arguments: '' };
        if (d.id) calls[d.index].id = d.id;
        if (d.function?.name) calls[d.index].name += d.function.name;
        if (d.function?.arguments) calls[d.index].arguments += d.function.arguments;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(calls.length >= 1);
  for (const call of calls) {
    assert.equal(call.name, 'get_weather');
    checkWeatherArgs(call.arguments);
  }
});

check('tool result round trip', async (client) => {
  const r = await client.chat.completions.create({
    model, max_tokens: 6, tools: [weather],
    messages: [
      { role: 'user', content: 'Weather in Rome?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Rome","unit":"c"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' },
    ],
  });
  assert.ok(r.usage.prompt_tokens > 10);
});

check('structured output, json_schema strict', async (client) => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      age: { type: 'integer' },
      tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, minItems: 1, maxItems: 3 },
      address: { type: 'object', properties: { zip: { type: 'string' } }, required: ['zip'],
                 additionalProperties: false },
    },
    required: ['name', 'age', 'tags', 'address'],
    additionalProperties: false,
  };
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({
      model, max_tokens: 300, temperature: 1, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema } },
      messages: [{ role: 'user', content: 'Describe a person.' }],
    });
    assert.equal(r.choices[0].finish_reason, 'stop', 'the grammar completes before max_tokens');
    const value = JSON.parse(r.choices[0].message.content);
    assert.equal(typeof value.name, 'string');
    assert.ok(Number.isInteger(value.age));
    assert.ok(value.tags.length >= 1 && value.tags.length <= 3);
    for (const t of value.tags) assert.ok(['a', 'b', 'c'].includes(t));
    assert.equal(typeof value.address.zip, 'string');
    assert.deepEqual(Object.keys(value).sort(), ['address', 'age', 'name', 'tags']);
  }
});

check('cached tokens on a shared long prefix', async (client) => {
  const system = 'You are a careful assistant. '.repeat(60);
  const ask = (q) => client.chat.completions.create({
    model, max_tokens: 4, temperature: 0,
    messages: [{ role: 'system', content: system }, { role: 'user', content: q }],
  });
  const first = await ask('First question?');
  const second = await ask('Second question?');
  assert.ok(first.usage.prompt_tokens > 100);
  assert.ok(second.usage.prompt_tokens_details.cached_tokens > 0,
            `cached_tokens ${second.usage.prompt_tokens_details.cached_tokens}`);
});

check('completions and models', async (client) => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === model || m.id === 'demo'));
});

check('errors', async (client) => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
                       (e) => e.status === 400);
  await assert.rejects(client.chat.completions.create({ model, n: 2, messages: [{ role: 'user', content: 'x' }] }),
                       (e) => e.status === 400 && e.param === 'n');
  const bad = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
});

check('batches: upload a JSONL file, create a batch, read its output file', async (client) => {
  const lines = ['a', 'b', 'c'].map((id) => JSON.stringify({
    custom_id: `req-${id}`, method: 'POST', url: '/v1/chat/completions',
    body: { model, max_tokens: 4, messages: [{ role: 'user', content: `Say ${id}` }] },
  }));
  const file = await client.files.create({
    file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'requests.jsonl'), purpose: 'batch',
  });
  assert.equal(file.purpose, 'batch');
  const created = await client.batches.create({
    input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
    metadata: { run: 'e2e' },
  });
  assert.equal(created.object, 'batch');
  assert.equal(created.request_counts.total, 3);
  let batch = created;
  const deadline = Date.now() + 60000;
  while (batch.status !== 'completed' && Date.now() < deadline) {
    assert.ok(['validating', 'in_progress', 'finalizing'].includes(batch.status), batch.status);
    await new Promise((r) => setTimeout(r, 100));
    batch = await client.batches.retrieve(created.id);
  }
  assert.equal(batch.status, 'completed');
  assert.equal(batch.request_counts.completed, 3);
  assert.equal(batch.metadata.run, 'e2e');
  const output = await (await client.files.content(batch.output_file_id)).text();
  const results = output.trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(results.map((r) => r.custom_id).sort(), ['req-a', 'req-b', 'req-c']);
  for (const r of results) {
    assert.equal(r.response.status_code, 200);
    assert.equal(r.response.body.object, 'chat.completion');
    assert.equal(r.response.body.usage.completion_tokens, 4);
  }
  const listed = await client.batches.list();
  assert.ok(listed.data.some((b) => b.id === created.id));
});

// The server listens before its model is loaded; /ready says when it is.
async function waitReady(url) {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server was not ready in 120 s');
}

const { child, url } = await startServer();
await waitReady(url);
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-e2e', maxRetries: 0, timeout: 120000 });
let failed = 0;
for (const { name, fn } of checks) {
  try {
    await fn(client);
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}
child.kill('SIGTERM');
const { code, signal } = await exited;
if (code !== 0) {
  failed++;
  console.log(`FAIL server exit: code ${code} signal ${signal}`);
} else {
  console.log('ok   server drained and exited 0 on SIGTERM');
}
rmSync(storeDir, { recursive: true, force: true });
process.exit(failed === 0 ? 0 : 1);
