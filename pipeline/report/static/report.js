(function(){
function val(td){if(!td)return '';var v=td.getAttribute('data-v');return v===null?td.textContent.trim():v;}
function cmp(a,b){var x=parseFloat(a),y=parseFloat(b);
if(!isNaN(x)&&!isNaN(y)&&String(x)===String(+a)&&String(y)===String(+b))return x-y;
return a<b?-1:a>b?1:0;}
document.querySelectorAll('table.sortable').forEach(function(table){
table.querySelectorAll('thead th').forEach(function(th,col){
th.addEventListener('click',function(){
var asc=th.getAttribute('aria-sort')!=='ascending';
table.querySelectorAll('thead th').forEach(function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(r1,r2){var c=cmp(val(r1.cells[col]),val(r2.cells[col]));return asc?c:-c;});
rows.forEach(function(r){body.appendChild(r);});});});});
function applyFilters(target){
var q='',kind='';
document.querySelectorAll('[data-target="'+target+'"]').forEach(function(el){
if(el.classList.contains('filter'))q=el.value.trim().toLowerCase();
if(el.classList.contains('kindfilter'))kind=el.value;});
var items=document.querySelectorAll(target),shown=0;
items.forEach(function(it){var text=it.textContent+' '+(it.getAttribute('data-group')||'');
var ok=(!q||text.toLowerCase().indexOf(q)>=0)&&
(!kind||it.getAttribute('data-kind')===kind);it.style.display=ok?'':'none';if(ok)shown++;});
document.querySelectorAll('[data-target="'+target+'"]').forEach(function(el){
var s=el.parentNode.querySelector('.shown');if(s)s.textContent=(q||kind)?shown+' of '+items.length+' shown':'';});}
document.querySelectorAll('.filter,.kindfilter').forEach(function(el){
el.addEventListener(el.tagName==='SELECT'?'change':'input',function(){applyFilters(el.getAttribute('data-target'));});});
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));if(!id)return;
var el=document.getElementById(id);if(el&&el.tagName==='DETAILS'){el.open=true;el.style.display='';
el.scrollIntoView({block:'start'});}}
window.addEventListener('hashchange',openTarget);openTarget();
})();
