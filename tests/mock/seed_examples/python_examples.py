# ruff: noqa: E501
"""The Python examples of the seed documents, verbatim but for typographic quotes.

Each runs as a script against the mock: ``requests`` calls to localhost:11434 and
the ``ollama`` module's functions are routed to the mock by the test, nothing in
the code is changed. The FastAPI wrapper of document 002 is left out (FastAPI is
not a dependency) and so is ``ollama.embed(model='llama3.2', input=)`` of document
000, which is not valid Python.
"""

from __future__ import annotations

PYTHON_EXAMPLES: dict[str, str] = {
    # 000 ------------------------------------------------------------------------
    "000-generate-text-key": """
import ollama
response = ollama.generate(model='llama3', prompt='What are the benefits of using Ollama?', options={'num_ctx': 2048})
print(response['text'])
""",
    "000-chat": """
from ollama import chat
conversation = [{"role": "user", "content": "Hello, how are you?"}]
reply = chat(model='llama2', messages=conversation)
print(reply.message.content)
""",
    "000-create": """
import ollama
ollama.create(model='example', from_='llama3.2', system="You are Mario from Super Mario Bros.")
""",
    "000-list": """
import ollama
models = ollama.list()
print(models)
""",
    "000-copy-delete": """
import ollama
ollama.copy(source='llama3.2', destination='llama3.2-copy')
ollama.delete(model='llama3.2-copy')
""",
    "000-pull": """
import ollama
ollama.pull(model='llama3.2')
""",
    "000-push": """
import ollama
ollama.push(model='your-namespace/your-model:latest')
""",
    "000-embed": """
import ollama
ollama.embed(model='llama3.2', input='The sky is blue because of rayleigh scattering')
""",
    # 002 ------------------------------------------------------------------------
    "002-tags": """
import requests
models = requests.get('http://localhost:11434/api/tags').json()
for m in models['models']:
    print(m['name'], f"{m['size']/1e9:.1f}GB")
""",
    "002-chat-function": """
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
chat('llama3.2', [{'role':'user','content':'Hello'}],
     temperature=0.5, num_ctx=8192)
print(chat('llama3.2', [{'role':'user','content':'Hello'}], temperature=0.5, num_ctx=8192))
""",
    "002-generate": """
import requests
r = requests.post('http://localhost:11434/api/generate',
    json={'model':'llama3.2','prompt':'The capital of France is','stream':False})
print(r.json()['response'])
""",
    "002-embeddings": """
import requests
def embed(text: str, model: str = 'nomic-embed-text') -> list[float]:
    r = requests.post('http://localhost:11434/api/embeddings',
        json={'model': model, 'prompt': text})
    return r.json()['embedding']
vec = embed('machine learning is fascinating')
print(f'Dimension: {len(vec)}')
""",
    "002-pull-model": """
import requests, json
def pull_model(name: str):
    r = requests.post('http://localhost:11434/api/pull',
        json={'name': name}, stream=True)
    for line in r.iter_lines():
        if line:
            status = json.loads(line)
            if 'total' in status and 'completed' in status:
                pct = 100 * status['completed'] / status['total']
                print(f"\\r{status.get('status','')} {pct:.1f}%", end='')
            else:
                print(status.get('status',''))
pull_model('qwen2.5-coder:7b')
""",
    "002-ps": """
import requests
ps = requests.get('http://localhost:11434/api/ps').json()
for m in ps.get('models', []):
    print(m['name'], f"{m.get('size_vram',0)/1e9:.1f}GB VRAM",
          'expires:', m.get('expires_at',''))
""",
    "002-show": """
import requests
# Get a model's Modelfile programmatically
details = requests.post('http://localhost:11434/api/show',
    json={'name': 'llama3.2'}).json()
print(details['modelfile'])
print('Parameters:', details.get('parameters',''))
""",
    "002-create-modelfile": '''
import requests, json
modelfile = """FROM llama3.2
SYSTEM You are a concise assistant.
PARAMETER temperature 0.3
"""
r = requests.post('http://localhost:11434/api/create',
    json={'name': 'concise-llama', 'modelfile': modelfile}, stream=True)
for line in r.iter_lines():
    if line:
        print(json.loads(line).get('status',''))
''',
    "002-minimal-client": """
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
""",
    "002-stats": """
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
""",
    "002-safe-chat": """
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
print(safe_chat('llama3.2', [{'role': 'user', 'content': 'Hello'}]))
print(safe_chat('no-such-model', [{'role': 'user', 'content': 'Hello'}]))
""",
    "002-ensure-loaded": """
import requests
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
print(is_model_loaded('llama3.2'))
""",
    "002-setup-script": """
import requests
import sys
REQUIRED_MODELS = ['llama3.2', 'nomic-embed-text', 'qwen2.5-coder:7b']
BASE = 'http://localhost:11434'
def check_ollama():
    try:
        r = requests.get(BASE, timeout=3)
        return r.status_code == 200
    except requests.exceptions.ConnectionError:
        return False
def list_models():
    return {m['name'] for m in
        requests.get(f'{BASE}/api/tags').json().get('models', [])}
def pull_if_missing(model):
    available = list_models()
    # Check if any variant of the model is present
    if any(a.startswith(model.split(':')[0]) for a in available):
        print(f'  {model}: already available')
        return
    print(f'  {model}: pulling...')
    r = requests.post(f'{BASE}/api/pull', json={'name': model}, stream=True)
    for line in r.iter_lines():
        if line:
            status = __import__('json').loads(line).get('status','')
            if 'pulling' in status or 'success' in status:
                print(f'    {status}')
if __name__ == '__main__':
    if not check_ollama():
        print('ERROR: Ollama is not running. Start it with: ollama serve')
        sys.exit(1)
    print('Ensuring required models are available...')
    for model in REQUIRED_MODELS:
        pull_if_missing(model)
    print('All models ready.')
""",
    "002-dashboard": """
import requests
from datetime import datetime
def model_dashboard(base='http://localhost:11434'):
    available = requests.get(f'{base}/api/tags').json().get('models',[])
    running = requests.get(f'{base}/api/ps').json().get('models',[])
    running_names = {m['name'] for m in running}
    print('=== Ollama Model Dashboard ===')
    print(f'Total models: {len(available)}')
    print(f'Loaded in memory: {len(running)}')
    print()
    if running:
        print('LOADED (in VRAM/RAM):')
        for m in running:
            vram_gb = m.get('size_vram', 0) / 1e9
            expires = m.get('expires_at', 'unknown')
            print(f"  {m['name']:40} {vram_gb:.1f}GB VRAM  expires: {expires[:19]}")
        print()
    print('ALL AVAILABLE MODELS:')
    for m in available:
        loaded = '* LOADED' if m['name'] in running_names else ''
        size_gb = m.get('size', 0) / 1e9
        print(f"  {m['name']:40} {size_gb:.1f}GB {loaded}")
model_dashboard()
""",
}
