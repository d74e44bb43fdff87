// Side-by-side encode throughput: Hugging Face tokenizers (the npm binding of the
// Rust library) on the corpus that run.sh also gives to posttrain's BenchmarkEncode.
//
//   node bench.js corpus TOKENIZER_DIR OUT.jsonl FILE...   write the corpus from FILEs
//   node bench.js encode TOKENIZER_DIR CORPUS.jsonl IDS.out  time HF, write its ids
//
// Not part of `go test`; run.sh drives it.
'use strict';
const fs = require('fs');
const path = require('path');

// makeCorpus splits each file into paragraph-aligned documents of about 4 kB,
// the size of a chat turn or a short web page, and adds the golden vectors'
// texts (multilingual, emoji, code) as documents of their own.
function makeCorpus(tokenizerDir, out, files) {
  const docs = [];
  for (const file of files) {
    const paragraphs = fs.readFileSync(file, 'utf8').split(/\n\n/);
    let doc = '';
    for (const p of paragraphs) {
      doc += (doc ? '\n\n' : '') + p;
      if (doc.length >= 4096) { docs.push(doc); doc = ''; }
    }
    if (doc) docs.push(doc);
  }
  const vectors = path.join(tokenizerDir, '..', 'vectors.jsonl');
  for (const line of fs.readFileSync(vectors, 'utf8').split('\n')) {
    if (line.trim()) docs.push(JSON.parse(line).text);
  }
  fs.writeFileSync(out, docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  console.error(`corpus: ${docs.length} documents, ${bytes} bytes`);
}

async function encode(tokenizerDir, corpus, idsOut) {
  const { Tokenizer } = require('tokenizers');
  const tok = Tokenizer.fromFile(path.join(tokenizerDir, 'tokenizer.json'));
  const docs = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l).text);
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  // addSpecialTokens: false leaves out the BOS of the post-processor; special
  // literals are still parsed, as posttrain's EncodeOptions{Special: true}.
  const opts = { addSpecialTokens: false };
  const all = [];
  for (const d of docs) all.push((await tok.encode(d, null, opts)).getIds()); // warm-up, and the ids to compare
  fs.writeFileSync(idsOut, all.map((ids) => JSON.stringify(ids)).join('\n') + '\n');

  const minSeconds = 3;
  let passes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minSeconds) {
    for (const d of docs) await tok.encode(d, null, opts);
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const mbps = (bytes * passes) / elapsed / 1e6;
  console.log(JSON.stringify({ impl: 'hf-tokenizers', version: require('tokenizers/package.json').version, mb_per_s: +mbps.toFixed(2), passes }));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'corpus') makeCorpus(args[0], args[1], args.slice(2));
else if (mode === 'encode') encode(...args).catch((e) => { console.error(e); process.exit(1); });
else { console.error('usage: node bench.js corpus|encode ...'); process.exit(2); }
