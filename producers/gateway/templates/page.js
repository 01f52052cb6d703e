(function(){
var T=JSON.parse(document.getElementById('i18n').textContent);
var html=document.documentElement,lang=html.lang;
function fmt(s,v){return s.replace(/\{(\w+)\}/g,function(m,k){return k in v?v[k]:m;});}
function vars(el){try{return JSON.parse(el.getAttribute('data-vars')||'{}');}
catch(e){return {};}}
function apply(){
  var d=T[lang];
  document.querySelectorAll('[data-t]').forEach(function(el){
    var k=el.getAttribute('data-t');if(k in d){el.textContent=fmt(d[k],vars(el));}});
  html.lang=lang;
  var other=lang==='vi'?'en':'vi',a=document.getElementById('lang');
  a.setAttribute('href','?lang='+other);a.setAttribute('hreflang',other);
  var h=document.querySelector('input[name=lang]');if(h){h.value=lang;}
}
document.getElementById('lang').addEventListener('click',function(e){
  e.preventDefault();lang=lang==='vi'?'en':'vi';apply();
  try{history.replaceState(null,'',location.pathname+'?lang='+lang);}catch(x){}
});
var form=document.getElementById('survey');
if(!form){return;}
var groups=form.querySelectorAll('fieldset[data-q]'),prog=document.getElementById('progress');
function count(){
  var n=0;groups.forEach(function(g){
    if(g.querySelector('input:checked')){n++;g.classList.remove('missing');}});
  prog.setAttribute('data-vars',JSON.stringify({n:n,total:groups.length}));
  prog.textContent=fmt(T[lang].progress,{n:n,total:groups.length});
}
form.addEventListener('change',count);
form.addEventListener('invalid',function(e){
  var g=e.target.closest('fieldset[data-q]');if(g){g.classList.add('missing');}},true);
var c=form.querySelector('textarea'),cc=document.getElementById('chars');
function chars(){cc.setAttribute('data-vars',JSON.stringify({n:c.value.length}));
  cc.textContent=fmt(T[lang].chars,{n:c.value.length});}
c.addEventListener('input',chars);
form.addEventListener('submit',function(){
  var b=form.querySelector('button[type=submit]');b.disabled=true;
  b.textContent=T[lang].sending;b.setAttribute('data-t','sending');});
count();chars();
})();
