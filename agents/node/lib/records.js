'use strict';
// The record type codes (spec/OTRACE.md section 4).

module.exports = Object.freeze({ HEADER: 0, STRING: 1, FUNCTION: 2, LANE: 3, CALL: 4, RETURN: 5,
  EXCEPTION: 6, UNWIND: 7, CRASH: 8, STACK: 9, EVENT: 10, MODULE: 11, END: 15 });
