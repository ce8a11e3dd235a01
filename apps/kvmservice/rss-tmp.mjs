const m = await import('@kvmservice/api');
m.createAgentClient({address:'127.0.0.1:1',insecure:true});
for (const x of (process.env.MODS||'').split(',').filter(Boolean)) await import(x);
setTimeout(()=>{ globalThis.gc?.(); setTimeout(()=>console.log(process.env.MODS, process.execArgv.join(' '), (process.memoryUsage().rss/1e6).toFixed(1), JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k,v])=>[k,(v/1e6).toFixed(1)])))), 3000)}, 500);
