"""The seed documents' Python examples for inference endpoints, run against the server.

Copied from ../shared/seeds/002_*.txt. Two things are restored, nothing else is
changed: the indentation that the documents' text extraction lost, and the port
(``http://localhost:11434`` becomes the test server's address). The models they
name (llama3.2, nomic-embed-text) exist in the test store as copies of the bundled
model with ``num_predict 24``, as ``ollama cp`` plus a PARAMETER line would make.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from tests.realserver.conftest import RunningServer

pytestmark = pytest.mark.reference

TAGS = """
import requests
models = requests.get('http://localhost:11434/api/tags').json()
for m in models['models']:
    print(m['name'], f"{m['size']/1e9:.1f}GB")
"""

CHAT = """
import requests, json
def chat(model, messages, stream=False, **options):
    payload = {'model': model, 'messages': messages, 'stream': stream}
    if options:
        payload['options'] = options
    r = requests.post('http://localhost:11434/api/chat', json=payload, stream=stream)
    if stream:
        for line in r.iter_lines():
            if line:
                chunk = json.loads(line)
                print(chunk['message']['content'], end='', flush=True)
                if chunk.get('done'): break
    else:
        return r.json()['message']['content']
# With parameters
print(chat('llama3.2', [{'role':'user','content':'Hello'}],
     temperature=0.5, num_ctx=8192))
chat('llama3.2', [{'role': 'user', 'content': 'Count to 5'}], stream=True)
"""

GENERATE = """
import requests
r = requests.post('http://localhost:11434/api/generate',
    json={'model':'llama3.2','prompt':'The capital of France is','stream':False})
print(r.json()['response'])
"""

EMBEDDINGS = """
import requests
def embed(text: str, model: str = 'nomic-embed-text') -> list[float]:
    r = requests.post('http://localhost:11434/api/embeddings',
        json={'model': model, 'prompt': text})
    return r.json()['embedding']
vec = embed('machine learning is fascinating')
print(f'Dimension: {len(vec)}')
"""

PS_AND_SHOW = """
import requests
ps = requests.get('http://localhost:11434/api/ps').json()
for m in ps.get('models', []):
    print(m['name'], f"{m.get('size_vram',0)/1e9:.1f}GB VRAM",
        'expires:', m.get('expires_at',''))
# Get a model's Modelfile programmatically
details = requests.post('http://localhost:11434/api/show',
    json={'name': 'llama3.2'}).json()
print(details['modelfile'])
print('Parameters:', details.get('parameters',''))
"""

STATS = """
import requests
def chat_with_stats(model, prompt):
    r = requests.post('http://localhost:11434/api/chat',
        json={'model':model,'messages':[{'role':'user','content':prompt}],'stream':False})
    d = r.json()
    ns = 1_000_000_000
    return {
        'response': d['message']['content'],
        'input_tokens': d.get('prompt_eval_count',0),
        'output_tokens':d.get('eval_count',0),
        'load_sec': d.get('load_duration',0)/ns,
        'total_sec': d.get('total_duration',0)/ns,
        'tok_per_sec': d.get('eval_count',0) / max(d.get('eval_duration',1)/ns,0.001)
    }
result = chat_with_stats('llama3.2','Explain transformers briefly')
print(f"{result['tok_per_sec']:.1f} tok/s | {result['input_tokens']} in / {result['output_tokens']} out")
"""  # noqa: E501 - the seed's line, verbatim

SAFE_CHAT_AND_PREWARM = """
import requests
def safe_chat(model, messages):
    try:
        r = requests.post('http://localhost:11434/api/chat',
            json={'model':model,'messages':messages,'stream':False}, timeout=120)
        r.raise_for_status()
        d = r.json()
        if 'error' in d:
            print(f'Ollama error: {d["error"]}')
            return None
        return d['message']['content']
    except requests.exceptions.ConnectionError:
        print('Cannot connect — is Ollama running?')
    except requests.exceptions.Timeout:
        print('Request timed out — model may be loading')
    except requests.exceptions.HTTPError as e:
        print(f'HTTP {e.response.status_code}: {e.response.text}')
    return None
print(safe_chat('llama3.2', [{'role': 'user', 'content': 'Hi'}]))
print(safe_chat('no-such-model', [{'role': 'user', 'content': 'Hi'}]))
def is_model_loaded(model_name, base='http://localhost:11434'):
    running = requests.get(f'{base}/api/ps').json().get('models',[])
    return any(m['name'].startswith(model_name) for m in running)
def ensure_loaded(model, base='http://localhost:11434'):
    if not is_model_loaded(model, base):
        print(f'Pre-warming {model}...')
        requests.post(f'{base}/api/generate',
            json={'model':model,'prompt':' ','stream':False})
    print('Ready')
ensure_loaded('llama3.2')
print('loaded:', is_model_loaded('llama3.2'))
"""

CLIENT = """
import requests, json
class OllamaClient:
    def __init__(self, base='http://localhost:11434'):
        self.base = base
    def chat(self, model, messages, stream=False, **opts):
        r = requests.post(f'{self.base}/api/chat',
            json={'model':model,'messages':messages,'stream':stream,'options':opts},
            stream=stream)
        if stream:
            for line in r.iter_lines():
                if line:
                    c = json.loads(line)
                    yield c['message']['content']
                    if c.get('done'): break
        else:
            return r.json()['message']['content']
    def embed(self, text, model='nomic-embed-text'):
        return requests.post(f'{self.base}/api/embeddings',
            json={'model':model,'prompt':text}).json()['embedding']
    def models(self):
        return [m['name'] for m in requests.get(f'{self.base}/api/tags').json().get('models',[])]
    def running(self):
        return requests.get(f'{self.base}/api/ps').json().get('models',[])
client = OllamaClient()
print('Available:', client.models())
print(client.chat('llama3.2',[{'role':'user','content':'Hello'}]))
print('stream:', ''.join(client.chat('llama3.2',[{'role':'user','content':'Hello'}], stream=True)))
print('embedding:', len(client.embed('hello')), 'running:', len(client.running()))
"""


def run(code: str, server: RunningServer) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code.replace("http://localhost:11434", server.url), {"__name__": "seed"})
    return out.getvalue()


def test_tags(server: RunningServer) -> None:
    assert re.search(r"^smollm2:135m 0\.1GB$", run(TAGS, server), re.M)


def test_chat_function_plain_and_streamed(server: RunningServer) -> None:
    printed = run(CHAT, server)
    assert len(printed.strip()) > 10


def test_generate(server: RunningServer) -> None:
    assert run(GENERATE, server).strip()


def test_legacy_embeddings(server: RunningServer) -> None:
    assert run(EMBEDDINGS, server).strip() == "Dimension: 576"


def test_ps_and_show(server: RunningServer) -> None:
    printed = run(PS_AND_SHOW, server)
    assert "# Modelfile generated by" in printed
    assert 'Parameters: stop                           "<|im_start|>"' in printed
    assert "\nnum_predict                    24\n" in printed


def test_chat_with_stats(server: RunningServer) -> None:
    match = re.search(r"([\d.]+) tok/s \| (\d+) in / (\d+) out", run(STATS, server))
    assert match is not None
    assert float(match[1]) > 1 and int(match[2]) > 10 and 0 < int(match[3]) <= 24


def test_error_handling_and_prewarm(server: RunningServer) -> None:
    printed = run(SAFE_CHAT_AND_PREWARM, server)
    assert 'HTTP 404: {"error":"model \'no-such-model\' not found"}' in printed
    assert printed.strip().endswith("Ready\nloaded: True")


def test_minimal_client(server: RunningServer) -> None:
    printed = run(CLIENT, server)
    assert "'smollm2:135m'" in printed and "'llama3.2:latest'" in printed
    assert "embedding: 576 running:" in printed
    assert re.search(r"^stream: .+", printed, re.M)
