function greet(who) { return `hi ${who}`; }
console.log(greet('child'));
