#include "engine/tokenizer/builtin_vocab_corpus.h"

#include <array>
#include <string_view>

namespace tether::tokenizer {
namespace {

// Written for tether; every passage is original. The mix (stories, how-to
// prose, chat turns, several programming languages, JSON, logs, tables and
// numbers, a little of other languages) is what chat models are asked about.
constexpr std::array<std::string_view, 12> kParts = {
    R"TETHER(The harbor town of Greywater wakes up slowly. Before the sun clears the hills, the bakers on Quay Street have already pulled the first loaves out of their ovens, and the smell of bread drifts down to the boats. Fishermen check their nets, argue about the weather, and drink coffee that is far too strong. Nobody in Greywater is ever in a hurry, except when the tide is turning.

Mara Ellison runs the small bookshop at the corner of Quay Street and Lantern Lane. She opened it twelve years ago with three hundred books, a borrowed ladder and a cat named Pepper. Today the shop holds almost nine thousand books, the ladder has been replaced twice, and Pepper still sleeps in the window, ignoring every customer who taps on the glass.

"Do you have anything about lighthouses?" a boy asked her one morning. He was perhaps ten years old, and he held a notebook full of drawings.

"Third shelf on the left, under the map of the coast," Mara said. "There is a book about the old Greywater light, too. It was built in 1871, and the first keeper wrote a diary that somebody finally printed."

The boy found the book, sat down on the floor and did not move for an hour. When he finally stood up, he asked whether he could come back tomorrow. Mara told him that the shop opens at nine, that reading is free, and that buying is optional. He laughed, and he came back the next day, and the day after that.

Stories like this one are ordinary, and that is exactly why they matter. A town is made of small habits: the way people greet each other, the places where they wait, the things they repair instead of throwing away. When we describe a place, we should describe its habits as carefully as its buildings.

In the winter, storms come in from the west. The wind pushes the waves over the harbor wall, and the streets near the water are closed for a day or two. People stay inside, play cards, cook soup, and tell the same stories they told last year. Children count the seconds between lightning and thunder, and the older ones explain that sound travels about one kilometer every three seconds, so a gap of nine seconds means the storm is three kilometers away.

Spring is different. The gardens fill with tulips and wild garlic, the ferry starts running twice a day again, and visitors arrive with cameras and questions. They want to know where the best fish soup is served, whether the cliffs are safe to climb, and why the church bell rings eleven times at noon. (Nobody knows the answer to the last question. The bell has always done that.)
)TETHER",
    R"TETHER(How to make a simple tomato soup

Ingredients for four people:
- 1 kg of ripe tomatoes
- 2 onions
- 3 cloves of garlic
- 2 tablespoons of olive oil
- 750 ml of vegetable stock
- salt, pepper and a few leaves of fresh basil

Step 1: Chop the onions and the garlic. Heat the oil in a large pot over medium heat, then add the onions and cook them for about 8 minutes, until they are soft and golden.
Step 2: Add the garlic and cook for one more minute. Be careful: burnt garlic tastes bitter.
Step 3: Cut the tomatoes into quarters and add them to the pot with the stock. Bring everything to a boil, then reduce the heat and let it simmer for 25 minutes.
Step 4: Blend the soup until it is smooth. Taste it, then season with salt and pepper.
Step 5: Serve it hot, with basil on top and a slice of bread on the side.

Tip: if the tomatoes are not very sweet, add a teaspoon of sugar or a grated carrot. The soup keeps for three days in the fridge and freezes well for up to three months.

A note on measurements: one cup is roughly 240 milliliters, one tablespoon is 15 milliliters, and one teaspoon is 5 milliliters. An oven set to 180 degrees Celsius is at about 356 degrees Fahrenheit; to convert, multiply by 9, divide by 5, and add 32.

Questions that cooks often ask:
Q: Can I use canned tomatoes?
A: Yes. Two cans of 400 grams each replace one kilogram of fresh tomatoes, and in winter they often taste better.
Q: Why does my soup taste flat?
A: It probably needs more salt or a little acid. Try a few drops of lemon juice or vinegar, stir, and taste again.
Q: How do I make it creamy without cream?
A: Blend in a boiled potato or a handful of cashews that have soaked in water for an hour.
)TETHER",
    R"TETHER(<|user|> Can you explain what a hash table is, in simple terms?
<|assistant|> Sure. A hash table is a way to store pairs of keys and values so that you can find a value quickly when you know its key. It works like a wall of numbered mailboxes. A hash function turns each key into a number, and that number tells you which mailbox to open. Because computing the number is fast, looking something up takes about the same time whether the table holds ten items or ten million.

Sometimes two different keys produce the same mailbox number. That is called a collision. There are two common ways to handle it: keep a small list in each mailbox (chaining), or move on to the next free mailbox (open addressing). Good hash tables also grow when they get too full, because a crowded table has more collisions and becomes slower.
<|user|> What is the difference between a process and a thread?
<|assistant|> A process is a running program with its own memory. A thread is a path of execution inside a process. Threads in the same process share memory, which makes it cheap for them to exchange data but also makes it easy for them to step on each other. That is why code that uses threads needs locks, atomic operations or message queues to coordinate access to shared data.

Here is a rule of thumb: use several processes when you want isolation, so that one crash does not take everything down, and use threads when you need to share a lot of data quickly.
<|user|> Thanks! One more question: why is my program slower with eight threads than with four?
<|assistant|> There are several possible reasons. Your machine may only have four physical cores, so the extra threads just take turns. The threads may be waiting on the same lock most of the time. They may be writing to memory that sits on the same cache line, which forces the cores to pass that line back and forth (this is called false sharing). Or the work may be limited by memory bandwidth rather than by computation, in which case more threads cannot help. A profiler will tell you which of these is happening; guessing usually takes longer.
<|user|> Write a short poem about the sea.
<|assistant|> The sea keeps every secret that it's told,
it folds the light and hands it back as gray;
it takes the ships, the letters and the gold,
and sends the tide to wash our words away.
)TETHER",
    R"TETHER(#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace inventory {

struct Item {
  std::string name;
  int64_t quantity = 0;
  double unit_price = 0.0;
};

// Keeps items by name and answers totals without scanning everything twice.
class Warehouse {
 public:
  void add(const std::string& name, int64_t quantity, double unit_price) {
    auto& item = items_[name];
    item.name = name;
    item.quantity += quantity;
    item.unit_price = unit_price;
  }

  bool remove(const std::string& name, int64_t quantity) {
    auto it = items_.find(name);
    if (it == items_.end() || it->second.quantity < quantity) return false;
    it->second.quantity -= quantity;
    if (it->second.quantity == 0) items_.erase(it);
    return true;
  }

  double total_value() const {
    double total = 0.0;
    for (const auto& [name, item] : items_) total += item.quantity * item.unit_price;
    return total;
  }

  std::vector<Item> sorted_by_value() const {
    std::vector<Item> result;
    result.reserve(items_.size());
    for (const auto& [name, item] : items_) result.push_back(item);
    std::sort(result.begin(), result.end(), [](const Item& a, const Item& b) {
      return a.quantity * a.unit_price > b.quantity * b.unit_price;
    });
    return result;
  }

 private:
  std::unordered_map<std::string, Item> items_;
};

}  // namespace inventory

int main(int argc, char** argv) {
  inventory::Warehouse warehouse;
  warehouse.add("bolts", 1200, 0.05);
  warehouse.add("nuts", 800, 0.03);
  warehouse.add("hinges", 40, 2.75);
  if (!warehouse.remove("nuts", 100)) {
    return 1;
  }
  for (const auto& item : warehouse.sorted_by_value()) {
    std::printf("%s: %lld x %.2f\n", item.name.c_str(), static_cast<long long>(item.quantity), item.unit_price);
  }
  return 0;
}

template <typename T>
T clamp_value(T value, T low, T high) {
  if (value < low) return low;
  if (value > high) return high;
  return value;
}

for (int i = 0; i < n; ++i) {
  for (int j = i + 1; j < n; ++j) {
    if (values[j] < values[i]) std::swap(values[i], values[j]);
  }
}
)TETHER",
    R"TETHER(import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class Reading:
    station: str
    timestamp: int
    temperature: float
    humidity: Optional[float] = None
    tags: List[str] = field(default_factory=list)


def load_readings(path: str) -> List[Reading]:
    """Reads one JSON object per line and skips lines that do not parse."""
    readings = []
    with open(path, "r", encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                print(f"line {line_number}: {error}", file=sys.stderr)
                continue
            readings.append(Reading(**data))
    return readings


def summarize(readings: List[Reading]) -> Dict[str, Dict[str, float]]:
    by_station: Dict[str, List[float]] = {}
    for reading in readings:
        by_station.setdefault(reading.station, []).append(reading.temperature)
    summary = {}
    for station, values in sorted(by_station.items()):
        mean = sum(values) / len(values)
        variance = sum((value - mean) ** 2 for value in values) / len(values)
        summary[station] = {
            "count": len(values),
            "mean": round(mean, 2),
            "std": round(math.sqrt(variance), 2),
            "min": min(values),
            "max": max(values),
        }
    return summary


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: summarize.py READINGS.jsonl", file=sys.stderr)
        return 2
    path = sys.argv[1]
    if not os.path.exists(path):
        print(f"no such file: {path}", file=sys.stderr)
        return 1
    result = summarize(load_readings(path))
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())


class RateLimiter:
    def __init__(self, capacity: int, refill_per_second: float) -> None:
        self.capacity = capacity
        self.tokens = float(capacity)
        self.refill_per_second = refill_per_second
        self.last_time = 0.0

    def allow(self, now: float) -> bool:
        elapsed = max(0.0, now - self.last_time)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self.last_time = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
)TETHER",
    R"TETHER({
  "id": "order-20931",
  "customer": {"name": "Lena Okafor", "email": "lena.okafor@example.com", "country": "NG"},
  "items": [
    {"sku": "TSH-001-BLU-M", "title": "Cotton T-shirt, blue, size M", "quantity": 2, "price": 14.99},
    {"sku": "MUG-204", "title": "Ceramic mug, 350 ml", "quantity": 1, "price": 9.5},
    {"sku": "BK-7781", "title": "Notebook, dotted, A5", "quantity": 3, "price": 6.25}
  ],
  "shipping": {"method": "standard", "cost": 4.9, "estimated_days": 5},
  "paid": true,
  "created_at": "2024-03-18T09:41:27Z",
  "notes": null
}
{"model": "assistant-small", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is the capital of Australia?"}], "temperature": 0.7, "max_tokens": 256, "stream": false}
{"choices": [{"index": 0, "message": {"role": "assistant", "content": "The capital of Australia is Canberra."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}}
{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
{"tool_calls": [{"id": "call_01", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Lisbon\", \"unit\": \"celsius\"}"}}]}
{"role": "tool", "tool_call_id": "call_01", "content": "{\"temperature\": 21, \"condition\": \"sunny\", \"wind_kmh\": 14}"}

2024-05-02 14:03:11.482 INFO  server: listening on 0.0.0.0:8080 (4 worker threads)
2024-05-02 14:03:15.907 INFO  request id=7f3a2c method=POST path=/v1/chat/completions status=200 duration_ms=842 tokens=117
2024-05-02 14:03:16.120 WARN  cache: evicted 12 blocks (free=3, used=509, total=512)
2024-05-02 14:03:18.004 ERROR upstream: connection refused (host=10.0.4.17 port=9000 attempt=3/5)
2024-05-02 14:03:19.551 INFO  request id=7f3a2d method=GET path=/metrics status=200 duration_ms=2
2024-05-02 14:04:00.000 DEBUG scheduler: batch size=16 prefill_tokens=2048 decode_tokens=16 queue=3

$ git status
On branch main
Your branch is up to date with 'origin/main'.
$ ls -la /var/log | head -n 5
$ grep -rn "TODO" src/ | wc -l
$ docker run --rm -p 8080:8080 -v "$PWD/data:/data" example/server:latest
$ curl -s http://localhost:8080/health && echo ok
$ python3 -m venv .venv && source .venv/bin/activate && pip install -r requirements.txt
$ make -j4 && ./build/app --config config.yaml --verbose
)TETHER",
    R"TETHER(Quarterly report, regional sales (in thousands of euros)

| Region | Q1 | Q2 | Q3 | Q4 | Total |
|--------|-----|-----|-----|-----|-------|
| North | 412 | 455 | 398 | 521 | 1786 |
| South | 389 | 402 | 437 | 466 | 1694 |
| East | 275 | 301 | 322 | 349 | 1247 |
| West | 508 | 497 | 530 | 612 | 2147 |
| Total | 1584 | 1655 | 1687 | 1948 | 6874 |

Sales grew by 23.0% from the first quarter to the fourth. The West region remains the largest, with 31.2% of the annual total, while the East region grew fastest (+26.9%). Returns fell from 4.1% to 3.3% of orders after the new packaging was introduced in June.

Some numbers worth remembering: pi is about 3.14159, e is about 2.71828, and the square root of 2 is about 1.41421. A year has 365 days (366 in a leap year), 52 weeks and 8760 hours. Light travels roughly 299,792 kilometers per second. The Earth is about 149.6 million kilometers from the Sun, and sunlight needs a little more than 8 minutes to reach us.

Powers of two: 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536. A kibibyte is 1024 bytes, a mebibyte is 1048576 bytes, and a gibibyte is 1073741824 bytes.

Times and dates: the meeting starts at 09:30 on Tuesday, 14 May 2024, and should end by 11:15. The deadline moved from 2024-06-01 to 2024-06-15. Call +1 555 0142 or write to support@example.org. The invoice number is INV-2024-00871 and the total is $1,249.99 including 20% VAT.

Arithmetic practice: 17 + 25 = 42; 144 / 12 = 12; 7 * 8 = 56; 1000 - 1 = 999; 2^10 = 1024; 15% of 80 is 12; the average of 3, 7 and 11 is 7; 0.1 + 0.2 is not exactly 0.3 in binary floating point.
)TETHER",
    R"TETHER(A short history of the imaginary Republic of Valden

The Republic of Valden was founded in 1784 by a council of farmers, merchants and river pilots who were tired of paying tolls to three different princes. Its first constitution was only four pages long. It promised that every adult who paid taxes could vote, that no bridge could be taxed twice, and that the council would meet "whenever the river is not frozen". In practice, this meant that the government took a long holiday every January.

During the nineteenth century, Valden became known for its clocks, its canals and its stubborn neutrality. When larger countries went to war, Valden sold them clocks and refused to sell them anything else. Historians still argue about whether this was wisdom or simply good business. Probably it was both.

The industrial age arrived late. The first railway reached the capital, Ostermark, in 1862, and the first electric streetlights were switched on in 1891. By 1900, the population had doubled to about 1.2 million people, and the old river pilots had become train drivers, engineers and, in a few famous cases, novelists.

In the twentieth century, Valden's universities grew quickly. The Ostermark Institute of Technology, founded in 1921, trained generations of engineers who designed dams, telephone networks and, later, some of the first computers in the region. Its motto, carved above the main door, reads: "Measure twice, publish once."

Today Valden is a small, quiet country with a big appetite for debate. Its parliament still has an unusual rule: any law longer than forty pages must be read aloud in full before the final vote. Supporters say this keeps laws short. Critics say it mainly keeps the members awake.

Why does an invented country belong in a text like this? Because most writing mixes facts with stories, and because a good reader learns to ask which is which. Who wrote this? When? Why? What evidence supports it? Those four questions work for real history as well as for imaginary republics.
)TETHER",
    R"TETHER(function debounce(callback, waitMs) {
  let timer = null;
  return function (...args) {
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = null;
      callback.apply(this, args);
    }, waitMs);
  };
}

async function fetchJson(url, options = {}) {
  const response = await fetch(url, {
    headers: { "Content-Type": "application/json", ...options.headers },
    ...options,
  });
  if (!response.ok) {
    throw new Error(`request failed: ${response.status} ${response.statusText}`);
  }
  return response.json();
}

const users = [
  { id: 1, name: "Ada", active: true, score: 91 },
  { id: 2, name: "Brook", active: false, score: 78 },
  { id: 3, name: "Chen", active: true, score: 85 },
];
const activeNames = users.filter((user) => user.active).map((user) => user.name);
console.log(activeNames.join(", "));

fn parse_line(line: &str) -> Result<(String, u32), String> {
    let mut parts = line.splitn(2, '=');
    let key = parts.next().ok_or("missing key")?.trim().to_string();
    let value = parts
        .next()
        .ok_or("missing value")?
        .trim()
        .parse::<u32>()
        .map_err(|e| format!("bad value: {e}"))?;
    Ok((key, value))
}

package main

import (
	"fmt"
	"net/http"
	"time"
)

func handler(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	fmt.Fprintf(w, "hello from %s\n", r.URL.Path)
	fmt.Printf("served %s in %v\n", r.URL.Path, time.Since(start))
}

func main() {
	http.HandleFunc("/", handler)
	if err := http.ListenAndServe(":8080", nil); err != nil {
		panic(err)
	}
}

SELECT customer_id, COUNT(*) AS orders, SUM(total) AS revenue
FROM orders
WHERE created_at >= '2024-01-01' AND status = 'paid'
GROUP BY customer_id
HAVING COUNT(*) > 3
ORDER BY revenue DESC
LIMIT 20;

CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  state BLOB
);
)TETHER",
    R"TETHER(Notes from a workshop on writing clearly

1. Say the important thing first. Readers are busy, and many of them will stop after the first paragraph. If your message is "the release is delayed by two weeks", do not hide it in the fourth sentence.
2. Use short words when they are accurate. "Use" is usually better than "utilize", and "start" is usually better than "commence".
3. Prefer concrete examples. Instead of saying that a function is "slow", say that it takes 340 milliseconds for a list of 10,000 items, and that the goal is under 50.
4. Cut what does not help. Every sentence should either give the reader information, or help them understand information you have already given.
5. Read your text aloud. If you run out of breath, the sentence is too long. If you stumble, the sentence is unclear.
6. Be kind to your future self. Write down why you made a decision, not only what the decision was. In six months, the why is the part you will have forgotten.

Someone asked whether these rules apply to code comments as well. They do. A good comment explains why the code is written this way: the constraint it respects, the bug it avoids, the measurement that justified it. A comment that repeats what the code says will quickly become wrong, because people update the code and forget the comment.

Another person asked about tone. Be direct, but not cold. It's fine to write "I think we should" or "we don't know yet". It's fine to say "thank you" and "sorry". Just don't let politeness bury the point.

Here are some everyday sentences, written simply:
- The train leaves at seven, so we should be at the station by a quarter to seven.
- I couldn't find the file you mentioned; could you send me the link again?
- We've moved the meeting to Thursday because half the team is traveling on Wednesday.
- She's been working on this problem for three days and she's almost done.
- They'll need at least two more weeks, and they'd like some help with testing.
- It isn't broken; it's just configured for a different network.
- What's the fastest way to get from the airport to the city center?
- Let's keep it simple: one page, three sections, no jargon.
)TETHER",
    R"TETHER(Un poco de español: Buenos días. ¿Cómo estás? Estoy bien, gracias. La biblioteca abre a las nueve y cierra a las ocho de la tarde. Me gustaría un café con leche y una tostada, por favor.
Un peu de français : Bonjour ! Où est la gare ? C'est à dix minutes à pied, après le pont. Nous avons réservé une table pour quatre personnes à vingt heures. Très bien, merci beaucoup.
Ein bisschen Deutsch: Guten Morgen! Wie spät ist es? Es ist halb neun. Der Zug nach München fährt um 10:42 Uhr von Gleis 7 ab. Schönes Wochenende!
Um pouco de português: Olá, tudo bem? A reunião começa às três horas. Obrigado pela ajuda, foi muito útil.
Un po' di italiano: Buonasera! Vorrei prenotare una camera per due notti. La colazione è inclusa? Grazie mille.
Lite svenska: Hej! Var ligger närmaste apotek? Det ligger på andra sidan gatan.
Trochę po polsku: Dzień dobry! Ile to kosztuje? Dziękuję bardzo.
Немного по-русски: Доброе утро! Как дела? Спасибо, всё хорошо. Где находится вокзал?
Λίγα ελληνικά: Καλημέρα! Ευχαριστώ πολύ.
中文：你好！今天天气很好。我们下午三点在图书馆见面。谢谢你的帮助。
日本語：こんにちは。今日はいい天気ですね。駅はどこですか？ありがとうございます。
한국어: 안녕하세요. 만나서 반갑습니다. 감사합니다.
العربية: مرحبا، كيف حالك؟ شكرا جزيلا.
हिन्दी: नमस्ते, आप कैसे हैं? धन्यवाद।
Symbols and emoji: ✓ done, ✗ failed, → next, ← back, ° degrees, € 12.50, £ 8.20, ¥ 1500, © 2024, ™, ½ cup, ± 0.5, ≈ 3.14, ≤ 10, ≥ 0, × 4, ÷ 2, 🙂 👍 🎉 ☕ 🚀
)TETHER",
    R"TETHER(Frequently asked questions about our service

What is an API key, and where do I find mine?
An API key is a secret string that identifies your account when your program sends requests. You can create, rename and delete keys on the settings page. Treat a key like a password: never paste it into public code, and rotate it if you think someone else has seen it.

Why did my request return error 429?
Status 429 means "too many requests". Your account has a limit on how many requests it can send per minute. Wait for the number of seconds given in the Retry-After header, then try again. If you often hit the limit, send requests in batches or ask us for a higher limit.

Why did my request return error 400?
Status 400 means the request itself was malformed: a required field was missing, a value had the wrong type, or the JSON could not be parsed. The response body says which field was wrong.

How are tokens counted?
Text is split into tokens before the model reads it. A token is often a whole common word, part of a longer word, a number, or a piece of punctuation. In English, one token is about four characters on average, so 1,000 tokens are roughly 750 words. The usage section of every response lists prompt tokens, cached tokens and completion tokens.

What are cached tokens?
When a new request starts with the same text as an earlier one, for example the same system prompt and conversation history, the server can reuse the work it already did for that prefix. Those reused tokens are reported as cached tokens. They make responses faster, and they are billed at a lower price.

Can I cancel a request that is already running?
Yes. If you close the connection of a streaming request, the server stops generating and frees the memory the request was using. For asynchronous requests, send a DELETE request to the job's URL.

Is my data used for training?
No. Requests and responses are kept only as long as your retention setting says, and they are never used to train models.

How do I report a problem?
Write to us with the request id from the response headers, the time of the request, and what you expected to happen. The request id lets us find the exact logs in a few seconds.

Glossary: latency, throughput, bandwidth, cache, queue, batch, stream, session, tenant, budget, quota, retry, timeout, deadline, webhook, payload, schema, endpoint, gateway, replica, shard, index, prefix, suffix, checkpoint, workflow, transaction, rollback, migration, deployment, configuration, environment, variable, function, parameter, argument, exception, interface, implementation, dependency, compiler, runtime, memory, pointer, reference, iterator, container, algorithm, complexity, benchmark, profile, measurement, evidence, conclusion.
)TETHER",
};

}  // namespace

const std::string& builtin_vocab_corpus() {
  static const std::string corpus = [] {
    std::string text;
    for (std::string_view part : kParts) {
      text.append(part);
      text.push_back('\n');
    }
    return text;
  }();
  return corpus;
}

}  // namespace tether::tokenizer
